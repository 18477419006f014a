"Run artefacts survive crashes, manifests say what happened, and seeds do not depend on workers."
import json
import os
import signal
import subprocess
import sys
import time
from multiprocessing import get_context

from datascope_nb.core import (load_records, read_manifest, record_rng, record_seed, run_dir, save_records,
                               write_manifest)


def _draw(record_id: str) -> tuple[str, float]:
    return record_id, record_rng(7, record_id).random()


def test_per_record_seeds_do_not_depend_on_worker_count():
    ids = [f"rec-{i}" for i in range(200)]
    with get_context("spawn").Pool(1) as one:
        a = dict(one.map(_draw, ids))
    with get_context("spawn").Pool(2) as two:
        b = dict(two.map(_draw, list(reversed(ids)), chunksize=7))
    assert a == b
    assert len({record_seed(7, i) for i in ids}) == len(ids)


def test_sigkill_mid_write_keeps_the_previous_artefact(tmp_path, sft_row):
    target = tmp_path / "out.jsonl"
    save_records([sft_row], target)
    before = target.read_bytes()
    child = f"""
import time
from datascope_nb.core import write_jsonl
def rows():
    for i in range(10**6):
        yield {{"id": str(i), "payload": "x" * 100}}
        if i == 1000: print("writing", flush=True); time.sleep(60)
write_jsonl(rows(), {str(target)!r})
"""
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert target.read_bytes() == before
    assert [r["id"] for r in load_records(target)] == [sft_row["id"]]


def test_manifest_records_config_inputs_and_skips(tmp_path, sft_row):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(sft_row) + "\n" + json.dumps({**sft_row, "id": "b", "output": ""}) + "\n")
    recs = load_records(src, strict=False)
    cfg = {"budget": 10, "method": "demo"}
    run = run_dir("demo", cfg, root=tmp_path / "runs")
    out = save_records(recs, run / "kept.jsonl")
    write_manifest(run, config=cfg, seed=3, inputs=[src], artefacts=[out], kept=len(recs), skips=recs.skips)
    m = read_manifest(run)
    assert m["config"] == cfg and m["seed"] == 3 and m["version"]
    assert m["counts"] == {"kept": 1, "skipped": 1}
    assert m["skip_reasons"] == {"empty_field": 1}
    assert m["skips"][0]["line"] == 2
    assert set(m["inputs"]) == {str(src)} and set(m["artefacts"]) == {"kept.jsonl"}
    assert run == run_dir("demo", {"method": "demo", "budget": 10}, root=tmp_path / "runs")
