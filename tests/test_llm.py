"The LLM layer against the real embedded server: injected 429/500s, timeouts, a killed server, a killed run. Every record ends up exactly once."
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from datascope_nb.llm import EmbeddedServer, Endpoint, ResponseCache, generate

from fault_proxy import FaultProxy

PROMPT = lambda r: [{"role": "user", "content": f"Reply with one word about the number {r['n']}."}]
RECORDS = [{"id": f"r{i}", "n": i} for i in range(12)]


@pytest.fixture(scope="module")
def server():
    srv = EmbeddedServer().start()
    yield srv
    srv.stop()


def _once_each(results, records, n=1):
    assert [(r["id"], r["sample"]) for r in results] == [(rec["id"], s) for rec in records for s in range(n)]


def _lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_embedded_server_answers_and_cache_avoids_new_calls(server, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    first = generate(RECORDS[:3], PROMPT, tmp_path / "a.jsonl", server.endpoint, max_tokens=8, cache=cache, desc=None)
    assert all(r["text"] and not r["error"] and not r["cached"] for r in first)
    again = generate(RECORDS[:3], PROMPT, tmp_path / "b.jsonl", server.endpoint, max_tokens=8, cache=cache, desc=None)
    assert all(r["cached"] for r in again) and [r["text"] for r in again] == [r["text"] for r in first]
    two = generate(RECORDS[:2], PROMPT, tmp_path / "n2.jsonl", server.endpoint, n=2, temperature=0.8, max_tokens=8, cache=cache, desc=None)
    _once_each(two, RECORDS[:2], n=2)
    assert len(cache) == 3 + 4, "n=2 samples are cached as distinct entries"


def test_injected_429_and_500_are_retried(server, tmp_path):
    with FaultProxy(server.endpoint.base_url, faults=["429", "500", "429", "pass", "500", "503"]) as proxy:
        ep = Endpoint(proxy.base_url, server.endpoint.model)
        res = generate(RECORDS, PROMPT, tmp_path / "out.jsonl", ep, max_tokens=8, cache=False, concurrency=4,
                       base_delay=0.1, desc=None)
    _once_each(res, RECORDS)
    assert not [r for r in res if r["error"]]
    assert sum(r["attempts"] for r in res) == len(RECORDS) + 5, "one retry per injected fault"
    assert len(_lines(tmp_path / "out.jsonl")) == len(RECORDS)


def test_a_timed_out_request_is_retried(server, tmp_path):
    with FaultProxy(server.endpoint.base_url, faults=["delay:4", "delay:4"]) as proxy:
        ep = Endpoint(proxy.base_url, server.endpoint.model)
        res = generate(RECORDS[:4], PROMPT, tmp_path / "out.jsonl", ep, max_tokens=8, cache=False, concurrency=2,
                       timeout=1.5, base_delay=0.1, desc=None)
    _once_each(res, RECORDS[:4])
    assert not [r for r in res if r["error"]] and max(r["attempts"] for r in res) >= 2


def test_giving_up_is_recorded_not_dropped_and_retried_later(server, tmp_path):
    out = tmp_path / "out.jsonl"
    with FaultProxy(server.endpoint.base_url, default="500") as proxy:
        res = generate(RECORDS[:2], PROMPT, out, Endpoint(proxy.base_url, server.endpoint.model), max_tokens=8, cache=False,
                       max_attempts=3, base_delay=0.05, desc=None)
    assert [(r["attempts"], r["text"]) for r in res] == [(3, None), (3, None)] and all("500" in r["error"] for r in res)
    fixed = generate(RECORDS[:2], PROMPT, out, server.endpoint, max_tokens=8, cache=False, retry_errors=True, desc=None)
    assert not [r for r in fixed if r["error"]] and len(_lines(out)) == 2


def test_server_killed_mid_run_and_restarted(tmp_path):
    srv = EmbeddedServer().start()
    out = tmp_path / "out.jsonl"
    records = [{"id": f"k{i}", "n": i} for i in range(24)]
    result = {}
    run = threading.Thread(target=lambda: result.setdefault("res", generate(
        records, PROMPT, out, srv.endpoint, max_tokens=16, cache=False, concurrency=2, max_attempts=10, base_delay=0.5, desc=None)))
    run.start()
    try:
        while not out.exists() or len(out.read_text().splitlines()) < 4: time.sleep(0.1)
        os.killpg(srv.proc.pid, signal.SIGKILL); srv.proc.wait()
        time.sleep(1.0)
        srv.start()
        run.join(300)
    finally: srv.stop()
    _once_each(result["res"], records)
    assert not [r for r in result["res"] if r["error"]]
    assert max(r["attempts"] for r in result["res"]) >= 2, "some requests met the dead server"


def test_a_sigkilled_run_resumes_without_loss_or_duplicates(server, tmp_path):
    out = tmp_path / "out.jsonl"
    script = f"""
import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
from datascope_nb.llm import Endpoint, generate
recs = [{{"id": f"s{{i}}", "n": i}} for i in range(16)]
prompt = lambda r: [{{"role": "user", "content": f"Count to {{r['n']}}."}}]
generate(recs, prompt, {str(out)!r}, Endpoint({server.endpoint.base_url!r}, {server.endpoint.model!r}), max_tokens=24,
         cache=False, concurrency=2, desc=None)
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    while not out.exists() or len(out.read_text().splitlines()) < 3: time.sleep(0.05)
    proc.kill(); proc.wait()
    with open(out, "ab") as f: f.write(b'{"id": "s9", "sam')       # as if killed mid-write
    subprocess.run([sys.executable, "-c", script], check=True)
    lines = _lines(out)
    assert sorted((l["id"], l["sample"]) for l in lines) == sorted((f"s{i}", 0) for i in range(16))
    assert not [l for l in lines if l["error"]]
