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
from datascope_nb.catalogue import load_catalogue
from datascope_nb.dgen import (FUNNEL, PLACEHOLDERS, control_tree, dgen_items, dgen_run, functions, held_out_apis, render_skeleton,
                               sample_skeleton, skeleton_violations)
from datascope_nb.llm import PROBE_PROMPT, Endpoint
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
    """A valid answer to Dgen's one-step prompt, except for the item whose API set starts with `MALFORMED` (a malformed answer:
    no Problem section) and the one whose set starts with `BROKEN` (a syntax error)."""
    request = body["messages"][-1]["content"]
    apis = re.search(r"at least once: (.*?)\. It follows", request).group(1).split(", ")
    skeleton = re.search(r"```python\n(.*?)```", request, re.S).group(1)
    if apis[0] == MALFORMED: return "I would use numpy for this, but I cannot say how."
    if apis[0] == BROKEN: return "Problem: Make an empty array.\nSolution:\n```python\ndef f(:\n    return numpy.empty(2)\n```"
    return f"Problem: Combine {' and '.join(apis)} in one function.\nSolution:\n```python\n{_valid_code(apis, skeleton)}```"


# numpy level 1, seed 0, Bench's APIs held out, as dgen_run draws them: item 1 answers malformed, item 3 with a syntax error.
ITEMS = dgen_items(load_catalogue("numpy"), 1, 5, 0, sorted(held_out_apis("numpy")))
MALFORMED, BROKEN = ITEMS[1]["apis"][0], ITEMS[3]["apis"][0]


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
    run = dgen_run("numpy", n=5, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"run", workers=2)
    assert len(srv.asked) == 5
    records = run.records()
    assert [r["id"] for r in records] == ["dgen:numpy-L1-00000", "dgen:numpy-L1-00002", "dgen:numpy-L1-00004"]
    assert [r["meta"]["apis"] for r in records] == [ITEMS[i]["apis"] for i in (0, 2, 4)]
    assert all(r["source"] == "dgen:numpy" and r["meta"]["api_fraction"] == 1.0 and r["meta"]["called"] for r in records)
    assert records[1]["instruction"] == f"Combine {' and '.join(ITEMS[2]['apis'])} in one function."
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
    assert (report["api_fraction_mean"], report["held_out"], report["skeleton_sizes"]) == (1.0, len(held_out_apis("numpy")), {"3": 1, "4": 1, "5": 2, "6": 1})
    assert {k: report["llm"][k] for k in ("answers", "asked", "from_cache", "cache_mode")} == {
        "answers": 5, "asked": 5, "from_cache": 0, "cache_mode": "use"}
    assert read_manifest(run.dir)["rejected"] == {"format: missing_section": 1, "parse: syntax error at line N, column N": 1}
    # The finished run is the answer: nothing is asked; under `refresh` every item is asked again.
    assert dgen_run("numpy", n=5, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"run").manifest == run.manifest
    assert len(srv.asked) == 5
    again = dgen_run("numpy", n=5, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"run", cache_mode="refresh")
    assert len(srv.asked) == 10 and again.report["llm"]["asked"] == 5 and again.records() == records


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
    asked_before = len(srv.asked)
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
    assert len(srv.asked) - asked_before == 12 - on_disk
    done = load_run(run)
    assert [r["id"] for r in done.records()] == [f"dgen:numpy-L1-{i:05d}" for i in range(3)] and done.rejected() == []
    assert (report["accepted"], funnel_counts(report)["dedup"]) == (3, {"reached": 3, "passed": 3})
    assert done.records()[1]["instruction"] == f"Write the function that uses_{MALFORMED.replace('.', '_')} stands beside."
    assert (report["llm"]["answers"], report["llm"]["asked"], report["llm"]["from_cache"]) == (12, 12, 0)
    assert read_manifest(run)["counts"] == {"kept": 3, "skipped": 0}
    # Run again: the finished run is returned as it is, and nothing is asked.
    asked = len(srv.asked)
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert json.loads(again.stdout) == report and len(srv.asked) == asked


# --- Execution-filtered sampling (issue 23) ---

def _sampled_answer(body: dict) -> str:
    "Sample 0 (greedy, no seed) answers in no format; a drawn sample answers validly when its seed is even, else with a syntax error."
    request = body["messages"][-1]["content"]
    apis = re.search(r"at least once: (.*?)\. It follows", request).group(1).split(", ")
    skeleton = re.search(r"```python\n(.*?)```", request, re.S).group(1)
    if "seed" not in body: return "I cannot."
    if body["seed"] % 2: return "Problem: Make an array.\nSolution:\n```python\ndef f(:\n    pass\n```"
    return f"Problem: Combine {' and '.join(apis)} in one function.\nSolution:\n```python\n{_valid_code(apis, skeleton)}```"


def test_samples_keep_the_first_accepted_candidate_the_same_across_reruns_and_worker_counts(scripted_server, tmp_path, monkeypatch):
    srv = scripted_server(answer=_sampled_answer)
    endpoint = Endpoint(srv.base_url, srv.model)
    runs = []
    for name, workers in (("one", 1), ("three", 3)):
        monkeypatch.setenv("DATASCOPE_HOME", str(tmp_path/f"home-{name}"))      # a response cache each: every candidate asked
        runs.append(dgen_run("numpy", n=6, level=1, mode="simple", endpoint=endpoint, out=tmp_path/name, workers=workers, samples=3))
    one, three = runs
    assert len(srv.asked) == 2 * 6 * 3
    assert all("seed" not in c["body"] for c in srv.asked if c["body"].get("temperature") == 0.0)
    assert one.records() == three.records() and one.report["acceptance_at"] == three.report["acceptance_at"]
    assert [(r.id, r.stage, r.reason) for r in one.rejected()] == [(r.id, r.stage, r.reason) for r in three.rejected()]
    seeds = {(c["body"]["messages"][-1]["content"], c["body"].get("seed")) for c in srv.asked}
    assert len(seeds) == 6 * 3, "each (item, sample) has its own seed"
    # Every candidate's outcome is recorded: each sample 0 stops at format, and an item keeps its first accepted sample.
    outcomes = {r.id: r.stage for r in one.rejected()}
    assert [outcomes[f"numpy-L1-{i:05d}#0"] for i in range(6)] == ["format"] * 6
    for rec in one.records():
        item, s = rec["id"].removeprefix("dgen:"), rec["meta"]["sample"]
        assert s >= 1 and all(outcomes[f"{item}#{t}"] == "parse" for t in range(1, s))
    accepted = len(one.records())
    assert one.report["acceptance_at"]["1"] == 0.0 and one.report["acceptance_at"]["3"] == round(accepted / 6, 4) > 0
    assert one.report["candidates"]["accepted"] == accepted and one.report["samples"] == 3 and one.report["items"] == 6
    # A rerun is the finished run; a run from the response cache alone gives the same bytes.
    assert dgen_run("numpy", n=6, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"three", workers=3, samples=3).records() == three.records()
    again = dgen_run("numpy", n=6, level=1, mode="simple", endpoint=endpoint, out=tmp_path/"again", workers=2, samples=3)
    assert len(srv.asked) == 2 * 6 * 3 and (again.dir/"dgen.jsonl").read_bytes() == (one.dir/"dgen.jsonl").read_bytes()


def _shaped_answer(body: dict) -> str:
    "Dgen's chain on a server that enforces shapes: JSON where a schema is asked for, a fenced block for the fill."
    if body["messages"] == PROBE_PROMPT: return "Blue."       # the server's enforcement answers the probe
    request = body["messages"][-1]["content"]
    if request.startswith("APIs from"): return "Call the APIs one after another."
    if "pseudo-code" in request: return json.dumps({"steps": ["Call each API."]})
    if request.startswith("Task:"):
        apis = re.search(r"at least once: (.*?)\. Import", request).group(1).split(", ")
        skeleton = re.search(r"```python\n(.*?)```", request, re.S).group(1)
        return f"```python\n{_valid_code(apis, skeleton)}```"
    helper = re.search(r"def (uses_\w+)", request).group(1)
    return json.dumps({"problem": f"Write the function that {helper} stands beside."})


def test_the_chain_asks_for_shapes_where_the_server_enforces_them(scripted_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DATASCOPE_HOME", str(tmp_path/"home"))
    srv = scripted_server(answer=_shaped_answer, honours=("json_object", "grammar"))
    run = dgen_run("numpy", n=3, level=1, endpoint=Endpoint(srv.base_url, srv.model), out=tmp_path/"run", workers=2)
    assert run.manifest["config"]["structured"] == {"json_object": True, "json_schema": False, "grammar": True}
    kinds = [(c["body"].get("response_format", {}).get("schema", {}).get("title"), "grammar" in c["body"]) for c in srv.asked]
    assert kinds == [(None, False)] * 3 + [("pseudocode", False)] * 3 + [(None, True)] * 3 + [("problem", False)] * 3
    assert [r["instruction"] for r in run.records()][1] == f"Write the function that uses_{MALFORMED.replace('.', '_')} stands beside."
    assert run.rejected() == [] and funnel_counts(run.report)["format"] == {"reached": 3, "passed": 3}
    # The solution is the filled function, whose block the grammar closed.
    assert run.records()[0]["output"].startswith("import numpy\n")
