"""CodeOcean on the pipeline: the accept path with scripted model answers (exact counts in codeocean.jsonl, rejected.jsonl and
report.json), the cache modes, a lenient load's skips in the manifest, schemas on a server that enforces them, `samples` that
do not depend on reruns or workers; and, slow, end to end with the embedded model."""
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from datascope_nb.codeocean import ITEM_STAGES, PROMPTS, TASKS, codeocean_run, rule_filter
from datascope_nb.core import load_records, write_jsonl
from datascope_nb.llm import Endpoint
from datascope_nb.pipeline import funnel_counts, load_run

ONE_EACH = "generation=1,summarisation=1,repair=1,translation=1"
STEPS = {"format", "rules", "behaviour", "discriminator", "decontamination"}

# Four small Python functions of 3+ lines, and one line too short to be a candidate.
CODES = {"add": "def add(a, b):\n    total = a + b\n    return total",
         "mul": "def mul(a, b):\n    product = a * b\n    return product",
         "scale": "def scale(xs, k):\n    out = [x * k for x in xs]\n    return out",
         "clip": "def clip(x, lo, hi):\n    if x < lo:\n        return lo\n    return min(x, hi)"}
RAW = [{"id": name, "language": "python", "package": "toy", "path": f"{name}.py", "name": name, "docstring": "", "code": code}
       for name, code in CODES.items()] + [{"id": "short", "language": "python", "package": "toy", "path": "s.py", "name": "s",
                                            "docstring": "", "code": "x = 1"}]
YES = "\n".join(f"Rule {i}: <answer: yes, fine>" for i in range(1, 5)) + "\nVerdict: yes"
NO_CORRECT = YES.replace("Rule 3: <answer: yes, fine>", "Rule 3: <answer: no, it ignores the inputs>").replace("Verdict: yes", "Verdict: no")


def scripted(body: dict) -> str:
    """The generator and the judge, scripted: an instruction naming the item's function, a solution that parses, and a judgement
    that passes every rule, except for `scale`, whose judge answers rule 3 (`correct`) no."""
    msgs = body["messages"]
    last = msgs[-1]["content"]
    if msgs[0]["content"] == PROMPTS["judge_system"]:
        return NO_CORRECT if re.search(r"Instruction: .*?`(\w+)\(", last)[1] == "scale" else YES
    if last.startswith("Code:"):
        name = re.search(r"def (\w+)\(", last)[1]
        return f"Write a Python function `{name}(a, b)` that combines its two arguments."
    name = re.search(r"`(\w+)\(", last)[1]
    return f"```python\ndef {name}(a, b):\n    return a + b\n```"


@pytest.fixture
def server(scripted_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DATASCOPE_HOME", str(tmp_path/"home"))      # a response cache of this test's own
    srv = scripted_server(answer=scripted, model="m")
    return srv, Endpoint(srv.base_url, "m")


def co(source, out, endpoint, **kw):
    return codeocean_run(source, out, n=4, mix="generation=1", embedder="tfidf", pool=None, round_size=2, endpoint=endpoint, **kw)


def test_scripted_answers_are_accepted_and_the_judges_no_is_the_reason(server, tmp_path):
    srv, endpoint = server
    run = co(RAW, tmp_path/"run", endpoint)
    assert len(srv.asked) == 12                 # 4 items x (instruction, solution, judgement)
    accepted = [json.loads(l) for l in open(run.dir/"codeocean.jsonl")]
    assert accepted == run.records() and sorted(r["id"] for r in accepted) == ["codeocean:add", "codeocean:clip", "codeocean:mul"]
    assert next(r for r in accepted if r["id"] == "codeocean:add") == {
        "id": "codeocean:add", "instruction": "Write a Python function `add(a, b)` that combines its two arguments.", "input": "",
        "output": "```python\ndef add(a, b):\n    return a + b\n```", "language": "python", "source": "codeocean:generation",
        "meta": {"task_name": "generation", "record": "add", "similarity": -1.0}}
    report = json.loads((run.dir/"report.json").read_text())
    assert (report["input"], report["accepted"], report["rejected"], report["items"]) == (5, 3, 2, 4)
    assert funnel_counts(report) == {"candidates": {"reached": 5, "passed": 4}, "coreset": {"reached": 4, "passed": 4},
                                     "generate": {"reached": 4, "passed": 3}, "decontamination": {"reached": 3, "passed": 3},
                                     "alpaca": {"reached": 3, "passed": 3}}
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["candidates"]["reasons"] == {"length": {"count": 1, "first": {"id": "short", "detail": "1 lines"}}}
    assert stages["generate"]["reasons"] == {
        "discriminator:rule:correct": {"count": 1, "first": {"id": "scale", "detail": "correct: it ignores the inputs"}}}
    assert report["by_task"]["generation"] == {"items": 4, "accepted": 3, "discriminator": 1, "acceptance": 0.75}
    assert all(report["by_task"][t] == {"items": 0, "acceptance": 0.0} for t in TASKS[1:])
    assert (report["rejections"], report["rules_answered_no"], report["notes"]) == ({"discriminator:rule:correct": 1}, {"correct": 1}, {})
    assert {k: report["llm"][k] for k in ("answers", "asked", "from_cache", "requests")} == {
        "answers": 12, "asked": 12, "from_cache": 0, "requests": 12}
    (judged_no,) = [r for r in run.rejected() if r.stage == "generate"]
    assert (judged_no.id, judged_no.reason) == ("scale", "discriminator:rule:correct")
    assert judged_no.record["judgement"]["rules"]["correct"] == {"answer": False, "reason": "it ignores the inputs"}
    assert judged_no.record["solution"] == "```python\ndef scale(a, b):\n    return a + b\n```" and rule_filter(judged_no.record) is None
    assert run.manifest["counts"] == {"kept": 3, "skipped": 0}
    assert run.manifest["config"]["model_identity"]["served"]["id"] == "m"


def test_a_finished_run_is_reused_and_no_cache_asks_again(server, tmp_path):
    srv, endpoint = server
    first = co(RAW, tmp_path/"run", endpoint)
    again = co(RAW, tmp_path/"run", endpoint)
    assert len(srv.asked) == 12 and again.manifest["created"] == first.manifest["created"]
    cached = co(RAW, tmp_path/"other", endpoint)          # another directory: every answer from the response cache
    assert len(srv.asked) == 12 and (cached.report["llm"]["from_cache"], cached.report["accepted"]) == (12, 3)
    fresh = co(RAW, tmp_path/"run", endpoint, cache_mode="no-cache")
    assert len(srv.asked) == 24 and (fresh.report["llm"]["asked"], fresh.report["llm"]["cache_mode"]) == (12, "no-cache")
    assert fresh.records() == first.records()
    again = co(RAW, tmp_path/"run", endpoint, cache_mode="no-cache")     # no-cache never reuses a finished run
    assert len(srv.asked) == 36 and again.report["llm"]["asked"] == 12


def test_without_the_discriminator_the_rule_passing_items_are_accepted(server, tmp_path):
    srv, endpoint = server
    run = co(RAW, tmp_path/"run", endpoint, discriminator=False)
    assert len(srv.asked) == 8 and run.report["accepted"] == 4 and run.report["by_task"]["generation"]["acceptance"] == 1.0


def test_a_lenient_loads_skips_reach_the_manifest(server, tmp_path):
    _, endpoint = server
    bad = tmp_path/"bad.jsonl"
    bad.write_text("\n".join([json.dumps(RAW[0]), json.dumps({"id": "nocode", "language": "python"}), "{not json",
                              *map(json.dumps, RAW[1:])]) + "\n")
    recs = load_records(bad, kind="raw", strict=False)
    run = co(recs, tmp_path/"run", endpoint)
    assert run.report["accepted"] == 3
    assert {(s["line"], s["kind"]) for s in run.manifest["skips"] if s["path"] == str(bad)} == {(2, "missing_field"), (3, "bad_json")}


# The embedded SmolLM2 end to end: minutes on two cores, so slow.

@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    "300 real corpus functions with docstring examples first (so repair can be behaviour-checked), one item per task."
    from datascope_nb.corpus import load_corpus
    recs = [r for r in load_corpus(kind="raw") if r["language"] == "python" and 3 <= r["code"].count("\n") + 1 <= 60]
    recs = sorted(recs, key=lambda r: ">>>" not in r["docstring"])[:300]
    raw = write_jsonl(recs, tmp_path_factory.mktemp("raw")/"raw.jsonl")
    return codeocean_run(load_records(raw, kind="raw", strict=False), root=tmp_path_factory.mktemp("runs"), n=4, mix=ONE_EACH,
                         embedder="tfidf", pool=None)


@pytest.mark.slow
def test_embedded_model_every_task_is_generated_and_every_item_accounted_for(embedded_run):
    run = load_run(embedded_run.dir)
    stopped = [r for r in run.rejected() if r.stage in ITEM_STAGES]
    items = [r.record for r in stopped]
    assert len(items) + len(run.records()) == 4 == run.report["items"]
    assert Counter(it["task_name"] for it in items) + Counter(r["meta"]["task_name"] for r in run.records()) == {t: 1 for t in TASKS}
    for r in stopped:
        assert (r.reason.split(":")[0] if r.stage == "generate" else r.stage) in STEPS, r.reason
        assert r.record["instruction"], f"{r.record['task_name']}: the generator wrote no instruction"
        # The information is the task's input, filled from the record, never from the model.
        assert bool(r.record["information"]) == (r.record["task_name"] != "generation")
        if r.reason.startswith(("behaviour", "discriminator")) or r.stage == "decontamination": assert rule_filter(r.record) is None
    for it in items:
        if it["task_name"] == "repair": assert it["bug"]["code"] != it["code"] and it["bug"]["after"] in it["information"]
        if it["task_name"] == "translation": assert it["target_language"] != "python"
    assert sum(sum(v for k, v in t.items() if k not in ("items", "acceptance")) for t in run.report["by_task"].values()) == 4
    assert sum(run.report["rejections"].values()) == 4 - run.report["accepted"]
    assert run.manifest["counts"]["kept"] == run.report["accepted"] == len(run.records())
    for r in run.records():
        assert {"instruction", "input", "output", "id", "language", "source"} <= set(r) and r["source"].startswith("codeocean:")


# --- Structured replies and execution-filtered sampling (issue 23) ---

from datascope_nb.codeocean import JUDGE_RULES
from datascope_nb.llm import PROBE_PROMPT


def shaped(body: dict) -> str:
    "The generator and the judge on a server that enforces shapes: JSON instructions and judgements, a fenced solution."
    msgs, last = body["messages"], body["messages"][-1]["content"]
    if msgs == PROBE_PROMPT: return "Blue."                   # the server's enforcement answers the probe
    if msgs[0]["content"] == PROMPTS["judge_system"]:
        no = re.search(r"Instruction: .*?`(\w+)\(", last)[1] == "scale"
        return json.dumps({**{n: {"answer": "no" if no and n == "correct" else "yes", "reason": "checked"} for n in JUDGE_RULES},
                           "verdict": "no" if no else "yes"})
    if last.startswith("Code:"):
        name = re.search(r"def (\w+)\(", last)[1]
        return json.dumps({"instruction": f"Write a Python function `{name}(a, b)` that combines them."})
    return scripted(body)


def test_on_a_server_that_enforces_shapes_the_judge_answers_a_schema(scripted_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DATASCOPE_HOME", str(tmp_path/"home"))
    srv = scripted_server(answer=shaped, model="m", honours=("json_object", "grammar"))
    run = co(RAW, tmp_path/"run", Endpoint(srv.base_url, "m"))
    assert run.manifest["config"]["form"] == "json_object"
    titles = [c["body"].get("response_format", {}).get("schema", {}).get("title") for c in srv.asked]
    assert titles == ["instruction"] * 2 + [None] * 2 + ["judgement"] * 2 + ["instruction"] * 2 + [None] * 2 + ["judgement"] * 2
    assert all(c["body"]["grammar"].startswith('root ::= "```python') for c in srv.asked if "Reply with the function" in c["body"]["messages"][-1]["content"])
    assert sorted(r["id"] for r in run.records()) == ["codeocean:add", "codeocean:clip", "codeocean:mul"]
    (no,) = [r for r in run.rejected() if r.stage == "generate"]
    assert (no.id, no.reason, no.detail) == ("scale", "discriminator:rule:correct", "correct: checked")
    # A server that stops honouring the schema after the probe: its free-text verdicts are typed rejections, never coerced.
    srv.honours = ()
    srv.answer = lambda body: YES if body["messages"][0]["content"] == PROMPTS["judge_system"] else shaped(body)
    lied = co(RAW, tmp_path/"lied", Endpoint(srv.base_url, "m"), cache_mode="no-cache")
    assert lied.report["accepted"] == 0 and lied.report["rejections"] == {"discriminator:schema:not_json": 4}


def sampled(body: dict) -> str:
    "Greedy solutions (no seed) are prose; a drawn one is code when its seed is even; the judge passes what it sees."
    msgs, last = body["messages"], body["messages"][-1]["content"]
    if msgs[0]["content"] == PROMPTS["judge_system"] or last.startswith("Code:"): return scripted(body)
    if body.get("seed", 1) % 2: return "I would add them."
    return scripted(body)


def test_samples_are_the_same_across_reruns_and_worker_counts(scripted_server, tmp_path, monkeypatch):
    srv = scripted_server(answer=sampled, model="m")
    runs = []
    for name, workers in (("one", 1), ("two", 2)):
        monkeypatch.setenv("DATASCOPE_HOME", str(tmp_path/f"home-{name}"))
        runs.append(co(RAW, tmp_path/name, Endpoint(srv.base_url, "m"), workers=workers, samples=4))
    one, two = runs
    assert (one.dir/"codeocean.jsonl").read_bytes() == (two.dir/"codeocean.jsonl").read_bytes()
    assert one.report["acceptance_at"] == two.report["acceptance_at"] and one.report["acceptance_at"]["1"] == 0.0
    assert one.report["candidates"] == two.report["candidates"] and sum(one.report["candidates"].values()) == 16
    for rec in one.records():
        outcomes = rec["meta"]["candidates"]
        assert [o["outcome"] for o in outcomes][rec["meta"]["sample"]] == "accepted"
        assert all(o["outcome"] == "rules:solution_code" for o in outcomes[:rec["meta"]["sample"]])
    assert one.report["acceptance_at"]["4"] == round(len(one.records()) / 4, 4) > 0
    assert [(r.id, r.reason) for r in one.rejected()] == [(r.id, r.reason) for r in two.rejected()]
