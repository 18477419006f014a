"""The LLM layer against real servers: the embedded llama.cpp server (injected 429/500s, timeouts, a killed server, a killed
run; every record ends up exactly once; schemas and grammars enforced) and the scripted-answer server (the cache answers only
for the model that answered; the probe tells servers that honour schemas from those that ignore them; replies are validated)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from datascope_nb.llm import (EmbeddedServer, Endpoint, ResponseCache, generate, llm_usage, model_identity, smollm2_path,
                              weights_hash)

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


def _texts(results) -> list:
    return [r["text"] for r in results]


# --- The cache answers only for the model that gave the answer (issue 29) ---

def test_scripted_server_speaks_the_openai_api(scripted_server, tmp_path):
    srv = scripted_server(answer=lambda body: "echo: " + (body["messages"][-1]["content"] if "messages" in body else body["prompt"]))
    chat = generate(RECORDS[:2], PROMPT, tmp_path / "chat.jsonl", Endpoint(srv.base_url, srv.model), cache=False, desc=None)
    assert _texts(chat) == [f"echo: Reply with one word about the number {i}." for i in range(2)]
    plain = generate(RECORDS[:1], lambda r: f"def f{r['n']}():", tmp_path / "plain.jsonl", Endpoint(srv.base_url, srv.model),
                     cache=False, desc=None)
    assert _texts(plain) == ["echo: def f0():"]
    assert [c["path"] for c in srv.calls] == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions",
                                              "/v1/models", "/v1/completions"], "one identification per run, then the calls"
    assert sorted(c["body"]["messages"][-1]["content"] for c in srv.completions[:2]) == [PROMPT(r)[0]["content"] for r in RECORDS[:2]]


def test_same_name_other_root_is_asked_and_a_restarted_server_hits(scripted_server, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    served = lambda root, created: [{"id": "m", "object": "model", "owned_by": "lab", "root": root, "max_model_len": 2048,
                                     "created": created}]
    ask = lambda srv, name, **kw: generate(RECORDS[:3], PROMPT, tmp_path / f"{name}.jsonl", Endpoint(srv.base_url, "m", **kw),
                                           cache=cache, desc=None)
    first = scripted_server(answer="from run-1", model="m", models=served("/ckpt/run-1", 1))
    port = first.port
    a = ask(first, "a")
    assert _texts(a) == ["from run-1"] * 3 and len(first.completions) == 3
    first.stop()
    # New weights served under the same name: `root` says so, and every request goes to the new model.
    second = scripted_server(answer="from run-2", model="m", models=served("/ckpt/run-2", 2), port=port)
    b = ask(second, "b")
    assert _texts(b) == ["from run-2"] * 3 and not any(r["cached"] for r in b) and len(second.completions) == 3
    assert {r["model_id"] for r in a}.isdisjoint({r["model_id"] for r in b})
    second.stop()
    # The first model again behind a restarted server (whose `created` stamp differs): all answers from the cache.
    third = scripted_server(answer="never sent", model="m", models=served("/ckpt/run-1", 3), port=port)
    c = ask(third, "c")
    assert _texts(c) == ["from run-1"] * 3 and all(r["cached"] for r in c) and third.completions == []
    assert llm_usage(c) == {"answers": 3, "from_cache": 3, "asked": 0, "requests": 0}
    # The user's tag is part of the identity too.
    d = ask(third, "d", tag="sft-run-7")
    assert _texts(d) == ["never sent"] * 3 and len(third.completions) == 3
    assert model_identity(Endpoint(third.base_url, "m", tag="sft-run-7")) == {
        "model_id": d[0]["model_id"], "model": "m", "base_url": third.base_url, "tag": "sft-run-7",
        "served": {"id": "m", "object": "model", "owned_by": "lab", "root": "/ckpt/run-1", "max_model_len": 2048}}


def test_no_cache_asks_everything_and_refresh_cache_replaces(scripted_server, tmp_path):
    srv = scripted_server(answer="v1")
    cache = ResponseCache(tmp_path / "cache.sqlite")
    run = lambda name, n=2, **kw: generate(RECORDS[:n], PROMPT, tmp_path / f"{name}.jsonl", Endpoint(srv.base_url, srv.model),
                                           cache=cache, desc=None, **kw)
    assert _texts(run("first")) == ["v1"] * 2 and len(srv.completions) == 2
    srv.answer = "v2"
    assert _texts(run("cached")) == ["v1"] * 2 and len(srv.completions) == 2
    fresh = run("no-cache", 3, cache_mode="no-cache")
    assert _texts(fresh) == ["v2"] * 3 and not any(r["cached"] for r in fresh) and len(srv.completions) == 5
    # --no-cache wrote the answer it lacked (r2) and left the existing entries alone.
    assert _texts(run("after-no-cache", 3)) == ["v1", "v1", "v2"] and len(srv.completions) == 5 and len(cache) == 3
    renewed = run("refresh", 3, cache_mode="refresh")
    assert _texts(renewed) == ["v2"] * 3 and len(srv.completions) == 8 and len(cache) == 3, "replaced, not added"
    srv.answer = "v3"
    assert _texts(run("after-refresh", 3)) == ["v2"] * 3 and len(srv.completions) == 8
    # A finished output file is not resumed when the cache is bypassed: every key is asked again, one line each.
    again = run("refresh", 3, cache_mode="refresh")
    assert _texts(again) == ["v3"] * 3 and len(srv.completions) == 11 and len(_lines(tmp_path / "refresh.jsonl")) == 3


def test_resuming_never_keeps_another_models_lines(scripted_server, tmp_path):
    srv = scripted_server(answer="old weights", model="m", models=[{"id": "m", "root": "/ckpt/a"}])
    out = tmp_path / "out.jsonl"
    generate(RECORDS[:2], PROMPT, out, Endpoint(srv.base_url, "m"), cache=False, desc=None)
    srv.models, srv.answer = [{"id": "m", "root": "/ckpt/b"}], "new weights"
    res = generate(RECORDS[:2], PROMPT, out, Endpoint(srv.base_url, "m"), cache=False, desc=None)
    assert _texts(res) == ["new weights"] * 2 and len(srv.completions) == 4 and len(_lines(out)) == 2


def _flipped_copy(gguf: Path, dest: Path) -> Path:
    "A copy of `gguf` with one bit of its last tensor changed: still a valid model, no longer the same weights."
    shutil.copy(gguf, dest)
    with open(dest, "r+b") as f:
        f.seek(-100, os.SEEK_END); byte = f.read(1)
        f.seek(-100, os.SEEK_END); f.write(bytes([byte[0] ^ 1]))
    return dest


def test_embedded_model_is_its_weights_not_its_port(server, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    first = generate(RECORDS[:2], PROMPT, tmp_path / "a.jsonl", server.endpoint, max_tokens=4, cache=cache, desc=None)
    assert not any(r["cached"] or r["error"] for r in first)
    assert model_identity(server.endpoint)["weights_sha256"] == weights_hash(smollm2_path())
    # The same GGUF behind another server, on another port, seen through a proxy that logs every request: no calls.
    restarted = EmbeddedServer().start()
    try:
        assert restarted.port != server.port
        with FaultProxy(restarted.endpoint.base_url) as proxy:
            again = generate(RECORDS[:2], PROMPT, tmp_path / "b.jsonl", replace(restarted.endpoint, base_url=proxy.base_url),
                             max_tokens=4, cache=cache, desc=None)
        assert all(r["cached"] for r in again) and _texts(again) == _texts(first) and proxy.seen == []
    finally: restarted.stop()
    # Other weights under the same fixed alias: every request goes to the model.
    changed = EmbeddedServer(model_path=_flipped_copy(smollm2_path(), tmp_path / "changed.gguf")).start()
    try:
        assert changed.endpoint.model == server.endpoint.model
        with FaultProxy(changed.endpoint.base_url) as proxy:
            other = generate(RECORDS[:2], PROMPT, tmp_path / "c.jsonl", replace(changed.endpoint, base_url=proxy.base_url),
                             max_tokens=4, cache=cache, desc=None)
        assert not any(r["cached"] or r["error"] for r in other) and proxy.seen == ["pass", "pass"]
        assert model_identity(changed.endpoint)["weights_sha256"] != model_identity(server.endpoint)["weights_sha256"]
    finally: changed.stop()
    assert len(cache) == 4


# --- Structured replies (issue 23): enforced by the embedded server, validated here, probed, keyed by schema ---

from datascope_nb.llm import (check_reply, extract_code, fenced_code_grammar, identify, structured_form,
                              structured_support)

VERDICT = {"title": "verdict", "type": "object", "additionalProperties": False, "required": ["answer", "reason"],
           "properties": {"answer": {"enum": ["yes", "no"]}, "reason": {"type": "string", "maxLength": 60}}}
ASK = lambda r: [{"role": "user", "content": r["q"]}]
QUESTIONS = [{"id": f"q{i}", "q": q} for i, q in enumerate(["Is 7 a prime number?", "Is the sea green?", "Can fish fly?"])]


def test_the_embedded_server_enforces_a_schema_and_a_grammar(server, tmp_path):
    cache = ResponseCache(tmp_path/"cache.sqlite")
    assert structured_support(server.endpoint, cache) == {"json_object": True, "json_schema": False, "grammar": True}
    free = generate(QUESTIONS, ASK, tmp_path/"free.jsonl", server.endpoint, max_tokens=48, cache=cache, desc=None)
    assert all(check_reply(r["text"], VERDICT)[1] is not None for r in free), "unconstrained, the model does not write the shape"
    shaped = generate(QUESTIONS, ASK, tmp_path/"shaped.jsonl", server.endpoint, max_tokens=96, cache=cache, desc=None, schema=VERDICT)
    assert all(r["schema_error"] is None and r["value"]["answer"] in ("yes", "no") for r in shaped), shaped
    assert [json.loads(r["text"]) for r in shaped] == [r["value"] for r in shaped]
    code = generate([{"id": "c", "q": "Write a Python function that adds two numbers."}], ASK, tmp_path/"code.jsonl",
                    server.endpoint, max_tokens=200, cache=cache, desc=None, grammar=fenced_code_grammar("python", 20))[0]
    assert code["text"].startswith("```python\n") and code["text"].endswith("```") and extract_code(code["text"], "python")[1] is None


def test_the_probe_tells_honouring_from_ignoring_servers_and_is_cached(scripted_server, tmp_path):
    cache = ResponseCache(tmp_path/"cache.sqlite")
    ignoring = scripted_server(answer="Blue.", model="m")                    # answers 200 whatever it is asked
    honouring = scripted_server(answer="Blue.", model="m", honours=("json_schema",))
    assert structured_support(Endpoint(ignoring.base_url, "m"), cache) == {"json_object": False, "json_schema": False, "grammar": False}
    support = structured_support(Endpoint(honouring.base_url, "m"), cache)
    assert support == {"json_object": False, "json_schema": True, "grammar": False} and structured_form(support) == "json_schema"
    assert [c["body"].get("response_format", {}).get("type") for c in honouring.completions] == ["json_object", "json_schema", None]
    assert honouring.completions[2]["body"]["grammar"] == 'root ::= "quokka-7421"\n'
    assert structured_support(Endpoint(honouring.base_url, "m"), cache) == support and len(honouring.completions) == 3   # cached


def test_a_non_conforming_reply_is_a_typed_rejection_never_coerced(scripted_server, tmp_path):
    srv = scripted_server(answer=['{"answer": "maybe", "reason": "unsure"}', "Yes, it is.", '{"answer": "no"'], model="m")
    res = generate(QUESTIONS, ASK, tmp_path/"out.jsonl", Endpoint(srv.base_url, "m"), cache=False, concurrency=1, desc=None,
                   schema=VERDICT, form="json_object")
    assert [(r["value"], r["schema_error"]) for r in res] == [(None, "schema:enum"), (None, "schema:not_json"), (None, "schema:not_json")]
    assert res[0]["schema_detail"] == "answer: 'maybe' is not one of ['yes', 'no']" and res[1]["text"] == "Yes, it is."
    assert srv.completions[0]["body"]["response_format"] == {"type": "json_object", "schema": VERDICT}


def test_cache_keys_differ_by_schema_and_grammar(scripted_server, tmp_path):
    srv = scripted_server(answer='{"answer": "yes", "reason": "it is"}', model="m")
    cache, ep = ResponseCache(tmp_path/"cache.sqlite"), Endpoint(srv.base_url, "m")
    ask = lambda name, **kw: generate(QUESTIONS[:1], ASK, tmp_path/f"{name}.jsonl", ep, cache=cache, desc=None, form="json_object", **kw)
    first = ask("a", schema=VERDICT)
    other = {**VERDICT, "properties": {**VERDICT["properties"], "reason": {"type": "string", "maxLength": 3}}}
    ask("b", schema=other); ask("c"); ask("d", grammar='root ::= "yes"')
    assert len(srv.asked) == 4 and len(cache) == 4                       # four shapes asked for: four entries
    again = ask("e", schema=VERDICT)
    assert len(srv.asked) == 4 and again[0]["cached"] and again[0]["value"] == first[0]["value"] == {"answer": "yes", "reason": "it is"}
    # Validation is ours, also for a cached answer: the same text under the tighter schema is rejected.
    assert ask("f", schema=other)[0]["schema_error"] == "schema:maxLength"


def test_bench_llm_reports_valid_shares_side_by_side(scripted_server, monkeypatch, tmp_path):
    from datascope_nb.llm import bench_llm
    monkeypatch.setenv("DATASCOPE_HOME", str(tmp_path/"home"))
    srv = scripted_server(answer="A cat has four legs.", model="m", honours=("json_object", "grammar"))
    r = bench_llm(Endpoint(srv.base_url, "m"), n=6, concurrency=2, workdir=tmp_path)
    assert r["form"] == "json_object" and [row["mode"] for row in r["rows"]] == ["plain", "constrained (json_object)"]
    assert [row["valid_share"] for row in r["rows"]] == [0.0, 1.0] and all(row["prompts"] == 6 for row in r["rows"])
    assert r["concurrency"]["workers"] == 2 and r["concurrency"]["speedup"] > 0
    assert len(srv.asked) == 3 * 6                                   # plain, constrained, constrained concurrently
