"""Dgen: the skeleton sampler's legality over 10,000 draws; the accept path and a rejection against a scripted model; and
`datascope dgen` end to end with a kill and a resume."""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from datascope_nb.apis import parse_code, syntax_error
from datascope_nb.core import read_manifest, read_rows
from datascope_nb.dgen import (FUNNEL, PLACEHOLDERS, control_tree, dgen_run, functions, render_skeleton, sample_skeleton,
                               skeleton_violations)
from datascope_nb.llm import Endpoint
from datascope_nb.pipeline import funnel_counts, load_run

BIN = Path(sys.executable).parent


def test_skeleton_sampler_emits_only_legal_skeletons_over_10000_draws():
    sizes, keywords = Counter(), Counter()
    for i in range(10_000):
        sk = sample_skeleton(random.Random(i))
        text = render_skeleton(sk, stand_in=True)
        assert syntax_error(parse_code(text, "python")) is None, text           # tree-sitter parses every stand-in
        assert skeleton_violations(sk) == [], (i, skeleton_violations(sk), text)
        assert control_tree(functions(text)[0][1].child_by_field_name("body")) == sk["body"]
        sizes[sk["n"]] += 1
        for kw, c in Counter(k for k in _keywords(sk["body"])).items(): keywords[kw] += c
    assert set(sizes) <= {2, 3, 4, 5, 6} and sizes.most_common(1)[0][0] == 4        # Normal(4, 1), clipped
    assert keywords["if"] > keywords["for"] > keywords["while"]                     # the reference's weights, through legality
    assert keywords["except"] >= keywords["try"]                                    # every try has its except


def _keywords(nodes):
    for n in nodes:
        yield n["kw"]; yield from _keywords(n["body"])


def _valid_code(apis: list[str], skeleton: str) -> str:
    "Code that passes every check: each API called (in a helper never run), and the skeleton's stand-in as the function."
    for ph, (_, concrete) in PLACEHOLDERS.items(): skeleton = skeleton.replace(ph, concrete)
    calls = "".join(f"    {api}()\n" for api in apis)
    return f"import numpy\n\ncond, items, result = False, [], None\n\ndef uses_{apis[0].replace('.', '_')}():\n{calls}\n{skeleton}"


def _scripted_answer(body: dict) -> str:
    """A valid answer to Dgen's one-step prompt, except for the item whose API set starts with numpy.empty_like (a malformed
    answer: no Problem section) and the one whose set starts with numpy.empty (a syntax error)."""
    request = body["messages"][-1]["content"]
    apis = re.search(r"at least once: (.*?)\. It follows", request).group(1).split(", ")
    skeleton = re.search(r"```python\n(.*?)```", request, re.S).group(1)
    if apis[0] == "numpy.empty_like": return "I would use numpy for this, but I cannot say how."
    if apis[0] == "numpy.empty": return "Problem: Make an empty array.\nSolution:\n```python\ndef f(:\n    return numpy.empty(2)\n```"
    return f"Problem: Combine {' and '.join(apis)} in one function.\nSolution:\n```python\n{_valid_code(apis, skeleton)}```"


def _chain_answer(body: dict) -> str:
    "Valid answers to the four steps of Dgen's prompt chain, each after a pause, so that a run can be killed halfway."
    time.sleep(0.5)
    request = body["messages"][-1]["content"]
    if request.startswith("APIs from"): return "Call the APIs one after another."
    if "pseudo-code" in request: return "1. Call each API."
    if request.startswith("Task:"):                     # fill: the skeleton with code that calls the APIs
        apis = re.search(r"at least once: (.*?)\. Import", request).group(1).split(", ")
        skeleton = re.search(r"```python\n(.*?)```", request, re.S).group(1)
        return f"```python\n{_valid_code(apis, skeleton)}```"
    code = re.search(r"```python\n(.*?)```", request, re.S).group(1)
    helper = re.search(r"def (uses_\w+)", code).group(1)
    return f"Problem: Write the function that {helper} stands beside.\nSolution:\n```python\n{code}```"


def test_dgen_accepts_valid_scripted_answers_and_rejects_malformed_ones_at_their_stage(scripted_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DATASCOPE_HOME", str(tmp_path/"home"))          # the response cache of this test only
    srv = scripted_server(answer=_scripted_answer)
    endpoint = Endpoint(srv.base_url, srv.model)
    # numpy level 1, seed 0: item 1 starts with numpy.empty_like, item 3 with numpy.empty (see _scripted_answer).
    run = dgen_run("numpy", n=5, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"run", workers=2)
    assert len(srv.completions) == 5
    records = run.records()
    assert [r["id"] for r in records] == ["dgen:numpy-L1-00000", "dgen:numpy-L1-00002", "dgen:numpy-L1-00004"]
    assert [r["meta"]["apis"][0] for r in records] == ["numpy.ndarray.all", "numpy.max", "numpy.finfo"]
    assert all(r["source"] == "dgen:numpy" and r["meta"]["api_fraction"] == 1.0 and r["meta"]["called"] for r in records)
    assert records[1]["instruction"] == ("Combine numpy.max and numpy.mean and numpy.ndarray.view and numpy.ndarray.squeeze "
                                         "and numpy.ndarray.dot in one function.")
    assert len((run.dir/"dgen.jsonl").read_text().splitlines()) == 3
    assert [(r.id, r.stage, r.reason, r.detail) for r in run.rejected()] == [
        ("numpy-L1-00001", "format", "missing_section", "missing_section:Problem"),
        ("numpy-L1-00003", "parse", "syntax error at line N, column N", "syntax error at line 1, column 7: missing ')'")]
    report = json.loads((run.dir/"report.json").read_text())
    assert (report["input"], report["accepted"], report["rejected"]) == (5, 3, 2)
    assert funnel_counts(report) == {"generate": {"reached": 5, "passed": 5}, "format": {"reached": 5, "passed": 4},
                                     "parse": {"reached": 4, "passed": 3}, "api_usage": {"reached": 3, "passed": 3},
                                     "skeleton": {"reached": 3, "passed": 3}, "execution": {"reached": 3, "passed": 3},
                                     "dedup": {"reached": 3, "passed": 3}, "sft": {"reached": 3, "passed": 3}}
    assert report["stages"][1]["reasons"] == {"missing_section": {"count": 1, "first": {"id": "numpy-L1-00001",
                                                                                       "detail": "missing_section:Problem"}}}
    assert (report["api_fraction_mean"], report["held_out"], report["skeleton_sizes"]) == (1.0, 123, {"3": 1, "4": 1, "5": 2, "6": 1})
    assert {k: report["llm"][k] for k in ("answers", "asked", "from_cache", "cache_mode")} == {
        "answers": 5, "asked": 5, "from_cache": 0, "cache_mode": "use"}
    assert read_manifest(run.dir)["rejected"] == {"format: missing_section": 1, "parse: syntax error at line N, column N": 1}
    # The finished run is the answer: nothing is asked; under `refresh` every item is asked again.
    assert dgen_run("numpy", n=5, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"run").manifest == run.manifest
    assert len(srv.completions) == 5
    again = dgen_run("numpy", n=5, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"run", cache_mode="refresh")
    assert len(srv.completions) == 10 and again.report["llm"]["asked"] == 5 and again.records() == records


def _llm_lines(run: Path) -> dict[str, list]:
    return {p.name: [(r["id"], r["sample"]) for _, r in read_rows(p)] for p in sorted(run.glob("llm-*.jsonl"))}


def test_cli_dgen_killed_and_rerun_loses_and_duplicates_nothing(scripted_server, tmp_path):
    srv = scripted_server(answer=_chain_answer)
    run, env = tmp_path/"run", {**os.environ, "DATASCOPE_HOME": str(tmp_path/"home")}     # a response cache of its own
    args = [str(BIN/"datascope"), "dgen", "--library", "numpy", "--n", "3", "--level", "1", "--out", str(run),
            "--base-url", srv.base_url, "--model", srv.model]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:                       # kill it once the first answers are on disk
        if (run/"llm-design.jsonl").exists() and (run/"llm-design.jsonl").read_text().count("\n") >= 1: break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]        # it died on its own: say why
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    assert not (run/"dgen.jsonl").exists()
    before = _llm_lines(run)
    asked_before = len(srv.completions)
    assert 1 <= len(before["llm-design.jsonl"]) < 3 and "llm-problem.jsonl" not in before
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert Path(report["run"]) == run
    after = _llm_lines(run)
    assert sorted(after) == ["llm-design.jsonl", "llm-fill.jsonl", "llm-problem.jsonl", "llm-pseudocode.jsonl"]
    for name, keys in after.items():
        assert len(keys) == len(set(keys)) == 3, (name, keys)                     # nothing duplicated, nothing lost
        assert keys[:len(before.get(name, []))] == before.get(name, [])           # earlier answers kept, not redone
    # Only what was not on disk was asked again (an answer in flight at the kill was lost, so asked twice).
    on_disk = sum(len(k) for k in before.values())
    assert len(srv.completions) - asked_before == 12 - on_disk
    done = load_run(run)
    assert [r["id"] for r in done.records()] == [f"dgen:numpy-L1-{i:05d}" for i in range(3)] and done.rejected() == []
    assert (report["accepted"], funnel_counts(report)["dedup"]) == (3, {"reached": 3, "passed": 3})
    assert done.records()[1]["instruction"] == "Write the function that uses_numpy_empty_like stands beside."
    assert (report["llm"]["answers"], report["llm"]["asked"], report["llm"]["from_cache"]) == (12, 12, 0)
    assert read_manifest(run)["counts"] == {"kept": 3, "skipped": 0}
    # Run again: the finished run is returned as it is, and nothing is asked.
    asked = len(srv.completions)
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert json.loads(again.stdout) == report and len(srv.completions) == asked
