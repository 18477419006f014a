"MBPP: the standard split, the paper's 3-shot prompt, scoring in the sandbox at both ends, and `datascope eval mbpp`."
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datascope_nb.evaluate import (MBPP_FEW_SHOT, SCORING, mbpp_problems, mbpp_program, mbpp_prompt, mbpp_task,
                                   pass_at_k_report, score_samples)

BIN = Path(sys.executable).parent
MBPP = SCORING["mbpp"]


def _score(problems, completion):
    return score_samples([{"task_id": p["task_id"], "completion": completion(p)} for p in problems], problems,
                         program=mbpp_program, timeout=MBPP["timeout"], memory_mb=MBPP["memory_mb"], desc=None)


def _env(tmp_path):
    return {**os.environ, "DATASCOPE_HOME": str(tmp_path / "home"), "CI": "1"}


def test_the_standard_split():
    test = mbpp_problems()
    assert [p["number"] for p in test] == list(range(11, 511))
    assert [p["number"] for p in mbpp_problems("prompt")] == list(range(1, 11))
    assert all(p["tests"] == p["test_list"] and len(p["test_list"]) == 3 for p in test)
    hard = [p for p in mbpp_problems(challenge=True) if p["challenge_test_list"]]
    assert hard and all(p["tests"] == p["test_list"] + p["challenge_test_list"] for p in hard)


def test_first_50_references_pass_and_pass_fails_them_all():
    fifty = mbpp_problems()[:50]
    ref = _score(fifty, lambda p: p["code"])
    assert [(r["task_id"], r["status"], r["stderr"][-200:]) for r in ref if not r["passed"]] == []
    stub = _score(fifty, lambda p: "pass")
    assert {r["status"] for r in stub} == {"failed"}


@pytest.mark.slow
def test_all_500_references_pass_but_341_and_pass_fails_500():
    """MBPP/341's third assert expects a set's elements in sorted order, which CPython does not give: the data's own defect.
    MBPP/123's reference needs seconds (6.6 s on a busy 2-core machine): a timeout there, and only there, is the machine's."""
    test = mbpp_problems()
    ref = _score(test, lambda p: p["code"])
    failing = {r["task_id"]: r["status"] for r in ref if not r["passed"]}
    assert failing.pop("MBPP/341") == "failed" and failing in ({}, {"MBPP/123": "timeout"}), failing
    assert sum(not r["passed"] for r in _score(test, lambda p: "pass")) == 500


def test_challenge_asserts_run_only_with_the_flag():
    "A lookup table of MBPP/28's three public answers passes its asserts, and fails once its challenge assert runs too."
    easy, hard = (next(p for p in mbpp_problems(challenge=c) if p["task_id"] == "MBPP/28") for c in (False, True))
    assert hard["tests"] == easy["test_list"] + ["assert binomial_Coeff(14,6) == 3003"]
    table = "def binomial_Coeff(n, k):\n    return {(5, 2): 10, (4, 3): 4, (3, 2): 3}.get((n, k))\n"
    assert [r["passed"] for r in _score([easy], lambda _: table) + _score([hard], lambda _: table)] == [True, False]
    assert [r["passed"] for r in _score([hard], lambda p: p["code"])] == [True]


def test_three_shot_prompt_through_a_served_model(tmp_path, scripted_server):
    "A model that answers each 3-shot prompt with the task's reference code, closed by [DONE], scores 1.0 on MBPP."
    by_task = {mbpp_task(p): p["code"] for p in mbpp_problems()[:3]}
    def answer(body):
        return next(code for task, code in by_task.items() if body["prompt"].endswith(task + "[BEGIN]\n")) + "\n[DONE]\nYou are"
    srv = scripted_server(answer=answer)
    out = tmp_path / "run"
    res = subprocess.run([BIN / "datascope", "eval", "mbpp", "--style", "completion", "--limit", "3", "--base-url", srv.base_url,
                          "--model", srv.model, "--out", str(out)], capture_output=True, text=True, env=_env(tmp_path), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    assert (report["pass@1"], report["problems"], report["generation_errors"]) == (1.0, 3, 0)
    sent = [c["body"] for c in srv.completions]
    assert len(sent) == 3 and all(b["stop"] == ["[DONE]"] for b in sent)
    assert all(b["prompt"].count("[DONE]") == len(MBPP_FEW_SHOT) for b in sent)
    assert sorted(b["prompt"] for b in sent) == sorted(mbpp_prompt(p, "completion") for p in mbpp_problems()[:3])


def test_cli_eval_mbpp_with_the_embedded_model(tmp_path):
    out = tmp_path / "run"
    res = subprocess.run([BIN / "datascope", "eval", "mbpp", "--limit", "2", "--max-tokens", "48", "--out", str(out)],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    results = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    assert (report["benchmark"], report["problems"], report["generation_errors"]) == ("mbpp", 2, 0)
    assert [r["task_id"] for r in results] == ["MBPP/11", "MBPP/12"]
    assert report["pass@1"] == pass_at_k_report(results)["pass@1"] == sum(r["passed"] for r in results) / 2
