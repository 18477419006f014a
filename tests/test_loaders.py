"Bad input to the loaders gets a clear error naming file, line and field, or a recorded skip in lenient mode."
import json

import pytest

from datascope_nb.core import RecordError, load_records, save_records


def _jsonl(*rows: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_truncated_jsonl_names_the_line(tmp_path, sft_row):
    p = tmp_path / "train.jsonl"
    p.write_text(_jsonl(sft_row, {**sft_row, "id": "ex-2"}) + json.dumps({**sft_row, "id": "ex-3"})[:25])
    with pytest.raises(RecordError, match=r"train\.jsonl:3: bad json: Unterminated string") as e:
        load_records(p)
    assert (e.value.line, e.value.kind) == (3, "bad_json")


def test_truncated_json_array_names_the_line(tmp_path, sft_row):
    p = tmp_path / "train.json"
    text = json.dumps([sft_row, {**sft_row, "id": "ex-2"}], indent=1)
    p.write_text(text[: text.rindex('"output"')])
    with pytest.raises(RecordError, match=r"train\.json:\d+: bad json: .*truncated") as e:
        load_records(p)
    assert e.value.line == text[: text.rindex('"output"')].count("\n") + 1


def test_json_array_keeps_each_objects_line(tmp_path, sft_row):
    p = tmp_path / "train.json"
    text = json.dumps([sft_row, {**sft_row, "id": "ex-2", "output": None}], indent=1)
    p.write_text(text)
    second = text[: text.index('"ex-2"')].rindex("{")
    line = text[:second].count("\n") + 1  # the line where the second object opens
    with pytest.raises(RecordError, match=rf"train\.json:{line}: field 'output': required field is missing"):
        load_records(p)


def test_missing_field_names_file_line_field(tmp_path, sft_row):
    p = tmp_path / "train.jsonl"
    bad = {k: v for k, v in sft_row.items() if k != "instruction"}
    p.write_text(_jsonl(sft_row, {**bad, "id": "ex-2"}))
    with pytest.raises(RecordError) as e:
        load_records(p)
    assert str(e.value) == f"{p}:2: field 'instruction': required field is missing"
    assert (e.value.line, e.value.field) == (2, "instruction")


def test_non_utf8_bytes_name_line_and_column(tmp_path, sft_row):
    p = tmp_path / "train.jsonl"
    p.write_bytes(_jsonl(sft_row).encode() + b'{"id": "x", "instruction": "caf\xe9 au lait"}\n')
    with pytest.raises(RecordError, match=r"train\.jsonl:2: bad encoding: not UTF-8 \(byte b'\\xe9' at column 32\)"):
        load_records(p)


def test_non_utf8_in_json_array(tmp_path, sft_row):
    p = tmp_path / "train.json"
    p.write_bytes(b'[\n' + json.dumps(sft_row).encode() + b',\n{"id": "\xff"}\n]')
    with pytest.raises(RecordError, match=r"train\.json:3: bad encoding"):
        load_records(p)


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.json", "empty.parquet"])
def test_empty_file_is_a_clear_error(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"")
    with pytest.raises(RecordError, match="the file is empty: no records to load"):
        load_records(p, strict=False)


def test_missing_file(tmp_path):
    with pytest.raises(RecordError, match="no such file"):
        load_records(tmp_path / "nope.jsonl")


def test_lenient_mode_records_every_skip(tmp_path, sft_row):
    p = tmp_path / "mixed.jsonl"
    p.write_bytes(_jsonl(sft_row, {**sft_row, "id": "ex-2", "output": ""}, {**sft_row, "id": "ex-1"},
                         {**sft_row, "id": "ex-4", "language": 3}).encode()
                  + b"[1, 2]\n" + b"\xff\n" + b'{"id": ')
    recs = load_records(p, strict=False)
    assert [r["id"] for r in recs] == ["ex-1"]
    assert recs.skip_reasons() == {"empty_field": 1, "duplicate_id": 1, "wrong_type": 1, "not_an_object": 1,
                                   "bad_encoding": 1, "bad_json": 1}
    assert [s.line for s in recs.skips] == [2, 3, 4, 5, 6, 7]
    dup = next(s for s in recs.skips if s.kind == "duplicate_id")
    assert dup.reason == "id 'ex-1' already used at line 1"


def test_field_mapping_defaults_and_derived_ids(tmp_path):
    p = tmp_path / "alpaca.jsonl"
    p.write_text(_jsonl({"prompt": "Reverse a list.", "response": "xs[::-1]"}, {"prompt": "Sort it.", "response": "sorted(xs)"}))
    recs = load_records(p, mapping={"prompt": "instruction", "response": "output"},
                        defaults={"language": "python", "source": "alpaca"})
    assert [r["id"] for r in recs] == ["alpaca:1", "alpaca:2"]
    assert recs[1]["output"] == "sorted(xs)" and recs[1]["source"] == "alpaca"


def test_parquet_round_trip_and_row_numbers(tmp_path, sft_row):
    p = save_records([sft_row, {**sft_row, "id": "ex-2", "output": "  "}], tmp_path / "t.parquet")
    with pytest.raises(RecordError, match=r"t\.parquet \(row 2\): field 'output': must not be blank"):
        load_records(p)
    assert len(load_records(p, strict=False)) == 1


def test_hf_datasets_directory(tmp_path, sft_row):
    import datasets
    ds = datasets.Dataset.from_list([{**sft_row, "id": f"ex-{i}", "response": sft_row["output"]} for i in range(3)])
    ds = ds.remove_columns(["output"])
    ds.save_to_disk(str(tmp_path / "ds"))
    recs = load_records(tmp_path / "ds", mapping={"response": "output"})
    assert [r["id"] for r in recs] == ["ex-0", "ex-1", "ex-2"]
    with pytest.raises(RecordError, match=r"ds \(row 1\): field 'output'"):
        load_records(tmp_path / "ds")


def test_raw_code_records(tmp_path):
    row = {"id": "m.f", "language": "python", "package": "m", "path": "m.py", "name": "f", "docstring": "", "code": "def f(): pass"}
    p = save_records([row], tmp_path / "raw.jsonl.gz")
    assert load_records(p, kind="raw")[0] == row
    with pytest.raises(RecordError, match="field 'package': required field is missing"):
        load_records(save_records([{k: v for k, v in row.items() if k != "package"}], tmp_path / "bad.jsonl"), kind="raw")
