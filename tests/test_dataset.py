"`resolve_dataset` on real files: a newcomer's Alpaca file, a truncated JSONL, chat shapes, nothing usable, HumanEval, run directories."
import json

import pytest

from datascope_nb.core import MANIFEST, NothingUsable, write_json, write_jsonl
from datascope_nb.dataset import DatasetSpecError, resolve_dataset

ADD_ONE = "def f(x):\n    return x + 1"


def test_plain_alpaca_json_array_resolves(tmp_path):
    rows = [{"instruction": "Add one to x.", "input": "", "output": ADD_ONE},
            {"instruction": "Return the larger of a and b.", "input": "a=1, b=2", "output": "def larger(a, b):\n    return max(a, b)\n"}]
    (tmp_path / "data.json").write_text(json.dumps(rows, indent=2))
    recs = resolve_dataset(tmp_path / "data.json")
    assert recs[0] == {"instruction": "Add one to x.", "input": "", "output": ADD_ONE, "id": "data:2", "source": "data",
                       "language": "python", "meta": {"language_from": "parse"}}
    assert [(r["id"], r["input"], r["language"]) for r in recs] == [("data:2", "", "python"), ("data:7", "a=1, b=2", "python")]
    assert recs.skips == []


def test_truncated_jsonl_is_reported_with_file_line_and_fix(tmp_path):
    rows = [{"instruction": f"Add {i}.", "output": f"```python\ndef f(x):\n    return x + {i}\n```"} for i in range(3)]
    text = "".join(json.dumps(r) + "\n" for r in rows[:2]) + json.dumps(rows[2])[:40]
    p = tmp_path / "train.jsonl"
    p.write_text(text)
    warned = []
    recs = resolve_dataset(p, warn=warned.append)
    assert [(r["id"], r["language"], r["meta"]["language_from"]) for r in recs] == [("train:1", "python", "fence"),
                                                                                    ("train:2", "python", "fence")]
    assert len(warned) == 1
    report = warned[0].splitlines()
    assert report[0] == f"{p}: read 3 records, kept 2, skipped 1"
    assert report[1].startswith("  bad_json: 1 (first at line 3: Unterminated string")
    assert report[2] == "    fix: each line must hold one complete JSON object: is the file truncated, or not JSON Lines?"


def test_messages_and_conversations(tmp_path):
    messages = [{"role": "system", "content": "Answer in Go."}, {"role": "user", "content": "Double x."},
                {"role": "assistant", "content": "func double(x int) int { return 2 * x }"}]
    conversations = [{"from": "human", "value": "Add one."}, {"from": "gpt", "value": "Try this."},
                     {"from": "human", "value": "As code?"}, {"from": "gpt", "value": f"```py\n{ADD_ONE}\n```"}]
    write_jsonl([{"messages": messages, "id": "m1"}, {"conversations": conversations, "id": "c1"}], tmp_path / "chat.jsonl")
    recs = resolve_dataset(tmp_path / "chat.jsonl")
    assert list(recs) == [
        {"id": "m1", "instruction": "Double x.", "output": "func double(x int) int { return 2 * x }", "source": "chat",
         "language": "go", "meta": {"system": "Answer in Go.", "language_from": "parse"}},
        {"id": "c1", "instruction": "Add one.", "output": f"```py\n{ADD_ONE}\n```", "source": "chat",
         "language": "python", "meta": {"turns": 4, "language_from": "fence"}}]


def test_nothing_usable_names_reason_line_and_hint(tmp_path):
    p = tmp_path / "qa.jsonl"
    p.write_text("\n" + json.dumps({"question": "Add one.", "answer": ADD_ONE}) + "\n")
    with pytest.raises(NothingUsable) as e:
        resolve_dataset(p)
    assert str(e.value).splitlines() == [
        f"{p}: read 1 records, kept 0, skipped 1",
        "  missing_field 'instruction': 1 (first at line 2: required field is missing)",
        "    fix: pass --default instruction=VALUE to fill it, or --map YOURS=instruction to rename the field that holds it"
        " (the rows' other fields: answer, question)",
        "nothing to work on: none of the 1 records is usable"]
    assert resolve_dataset(p, mapping={"question": "instruction", "answer": "output"})[0]["language"] == "python"


def test_undecided_language_is_a_skip_unless_defaulted(tmp_path):
    p = tmp_path / "short.jsonl"
    write_jsonl([{"prompt": "Set x to one.", "response": "x = 1"}], p)
    with pytest.raises(NothingUsable) as e:
        resolve_dataset(p)
    msg = str(e.value)
    assert "unknown_language 'language': 1 (first at line 1: not given, and not detected" in msg
    assert "fix: pass --default language=python" in msg
    recs = resolve_dataset(p, defaults={"language": "python"})
    assert (recs[0]["language"], recs[0]["meta"]) == ("python", {"language_from": "default"})


def test_humaneval_by_name():
    recs = resolve_dataset("humaneval")
    assert (len(recs), recs[0]["id"], recs[-1]["id"]) == (164, "HumanEval/0", "HumanEval/163")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DatasetSpecError, match=r"no file, directory or registered dataset 'humanevl' "
                                               r"\(did you mean 'humaneval'\?\); registered: corpus, humaneval"):
        resolve_dataset("humanevl")


def test_run_directory(tmp_path):
    run = tmp_path / "runs" / "dgen-0123456789ab"
    recs = [{"id": "a", "instruction": "Add one.", "output": ADD_ONE, "language": "python", "source": "dgen"}]
    write_json({"config": {}}, run / MANIFEST)
    write_jsonl(recs, run / "dgen.jsonl")
    write_jsonl([{"id": "b"}], run / "candidates.jsonl")
    write_jsonl([{"id": "c", "reason": "too long"}], run / "rejected.jsonl")
    assert list(resolve_dataset(run)) == [{**recs[0], "meta": {"language_from": "field"}}]
    write_jsonl([], run / "samples.jsonl")
    with pytest.raises(DatasetSpecError, match="has 2 JSONL files and none is records.jsonl; it holds: candidates.jsonl, "
                                               "dgen.jsonl, manifest.json, rejected.jsonl, samples.jsonl"):
        resolve_dataset(run)
    write_jsonl(recs, run / "records.jsonl")
    assert resolve_dataset(run).source == str(run / "records.jsonl")


def test_pipeline_run_directory_uses_its_report(tmp_path):
    run = tmp_path / "pipe"
    write_json({"config": {}}, run / MANIFEST)
    write_json({"output": "kept.jsonl"}, run / "report.json")
    write_jsonl([{"id": "k", "instruction": "Add one.", "output": ADD_ONE}], run / "kept.jsonl")
    write_jsonl([{"id": "x"}], run / "other.jsonl")
    assert [(r["id"], r["source"], r["language"]) for r in resolve_dataset(run)] == [("k", "pipe", "python")]


def test_unreadable_specs(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(DatasetSpecError, match=r"a dataset file is \.jsonl, \.json or \.parquet"):
        resolve_dataset(tmp_path / "data.csv")
    with pytest.raises(DatasetSpecError, match="is neither a run directory .*; it holds: data.csv"):
        resolve_dataset(tmp_path)
    with pytest.raises(DatasetSpecError, match="--map applies to files"):
        resolve_dataset("humaneval", mapping={"prompt": "instruction"})
