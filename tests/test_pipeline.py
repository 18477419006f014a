"The pipeline runner on real programs: the same bytes for any worker count, resume after a crash, an all-rejected run."
import json
from pathlib import Path

import pytest

from datascope_nb.apis import annotate_record
from datascope_nb.core import load_records, write_jsonl
from datascope_nb.evaluate import humaneval_problems
from datascope_nb.lintseq import program_problem
from datascope_nb.pipeline import batch_stage, filter_stage, load_run, map_stage, reject, run_pipeline


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    "HumanEval's 164 canonical solutions as SFT records in a JSONL file, plus one row a loader rejects and one that does not parse."
    rows = [{"id": p["task_id"], "instruction": p["prompt"], "output": p["prompt"] + p["canonical_solution"],
             "language": "python", "source": "humaneval"} for p in humaneval_problems()]
    rows.insert(50, {"id": "broken", "instruction": "i", "output": "def f(:\n    pass\n", "language": "python", "source": "t"})
    path = tmp_path_factory.mktemp("data")/"he.jsonl"
    write_jsonl(rows, path)
    with open(path, "a") as f: f.write('{"id": "no-output", "instruction": "i"}\n')
    return path


def with_apis(rec: dict) -> dict:
    ann = annotate_record(rec)
    return {**rec, "apis": ann["apis"], "parse_error": ann["error"]}


def parses(rec: dict):
    return reject("syntax_error", rec["parse_error"]) if rec["parse_error"] else rec


def first_of_each_api_set(recs: list[dict]) -> list:
    "Keep the first program for each set of resolved APIs: a dedup that needs every record."
    seen, out = {}, []
    for r in recs:
        key = tuple(r["apis"])
        out.append(reject("same_apis", f"as {seen[key]}", id=r["id"]) if key in seen else r)
        seen.setdefault(key, r["id"])
    return out


STAGES = [map_stage(with_apis), filter_stage(parses), batch_stage(first_of_each_api_set, "dedup", whole=True)]


def test_same_bytes_for_one_and_two_workers(dataset, tmp_path):
    recs = load_records(dataset, strict=False)
    one = run_pipeline(recs, STAGES, tmp_path/"one", name="he", workers=1, shard_size=16, keep_shards=True)
    two = run_pipeline(recs, STAGES, tmp_path/"two", name="he", workers=2, shard_size=16)
    for f in ("records.jsonl", "rejected.jsonl", "report.json"):
        assert (one.dir/f).read_bytes() == (two.dir/f).read_bytes(), f
    assert len(list((one.dir/"shards").glob("00-*.done.json"))) == 11          # 165 records in shards of 16
    assert [(s["stage"], s["in"], s["out"], s["rejected"]) for s in one.report["stages"]] == \
        [("with_apis", 165, 165, 0), ("parses", 165, 164, 1), ("dedup", 164, 85, 79)]
    assert one.report["stages"][1]["reasons"] == {
        "syntax_error": {"count": 1, "first": {"id": "broken", "detail": "syntax error at line 1, column 7: missing ')'"}}}
    assert one.report["stages"][2]["reasons"]["same_apis"]["first"] == {"id": "HumanEval/3", "detail": "as HumanEval/2"}
    assert one.manifest["counts"] == {"kept": 85, "skipped": 1} and one.manifest["skip_reasons"] == {"missing_field": 1}
    assert one.manifest["rejected"] == {"dedup: same_apis": 79, "parses: syntax_error": 1}
    assert [r["id"] for r in one.records()][:3] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def counted(calls: Path, fail_on: str | None):
    "A stage that leaves one file per call (workers are processes) and fails on record `fail_on` while the flag is set."
    def stage(rec: dict) -> dict:
        (calls/rec["id"].replace("/", "_")).touch()
        if rec["id"] == fail_on and (calls.parent/"broken").exists(): raise RuntimeError("the linter crashed")
        return with_apis(rec)
    return map_stage(stage, "counted")


def test_rerun_after_a_crash_computes_only_unfinished_shards(dataset, tmp_path):
    recs = list(load_records(dataset, strict=False))
    calls = tmp_path/"calls"; calls.mkdir()
    (tmp_path/"broken").touch()
    out = tmp_path/"run"
    with pytest.raises(Exception, match="failed on record 'HumanEval/130'.*the linter crashed"):
        run_pipeline(recs, [counted(calls, "HumanEval/130")], out, workers=2, shard_size=16)
    done = {int(p.name[3:9]) for p in (out/"shards").glob("00-*.done.json")}     # a failed run keeps its shards
    assert 0 < len(done) < 11 and 8 not in done          # HumanEval/130 is record 131: shard 8
    assert not (out/"records.jsonl").exists()
    (tmp_path/"broken").unlink()
    for p in calls.iterdir(): p.unlink()
    run = run_pipeline(recs, [counted(calls, "HumanEval/130")], out, workers=2, shard_size=16)
    todo = {r["id"].replace("/", "_") for i, r in enumerate(recs) if i // 16 not in done}
    assert {p.name for p in calls.iterdir()} == todo
    clean = run_pipeline(recs, [counted(calls, None)], tmp_path/"clean", workers=1, shard_size=16)
    assert (run.dir/"records.jsonl").read_bytes() == (clean.dir/"records.jsonl").read_bytes()
    assert run.report["accepted"] == 165


def test_an_all_rejected_run_loads_as_empty_with_its_reasons(dataset, tmp_path):
    def short_enough(rec: dict):
        problem = program_problem(rec["output"], max_lines=5)
        return reject(*problem) if problem else rec
    run = run_pipeline(load_records(dataset, strict=False), [filter_stage(short_enough)], tmp_path/"none", workers=2, shard_size=64)
    back = load_run(run.dir)
    assert back.records() == [] and (back.dir/"records.jsonl").read_bytes() == b""
    assert (back.report["input"], back.report["accepted"], back.report["rejected"]) == (165, 0, 165)
    assert back.report["stages"][0]["reasons"] == {
        "too_long": {"count": 164, "first": {"id": "HumanEval/0", "detail": "19 lines, over the limit of 5"}},
        "syntax_error": {"count": 1, "first": {"id": "broken", "detail": "does not parse: invalid syntax (line 1)"}}}
    assert [r.reason for r in back.rejected()][49:52] == ["too_long", "syntax_error", "too_long"]
    assert back.manifest["counts"] == {"kept": 0, "skipped": 1}
    assert json.loads((back.dir/"report.json").read_text())["accepted"] == 0
