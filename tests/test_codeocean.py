"CodeOcean end to end with the embedded model: every task generated, every item accounted for, Alpaca output, bad input."
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from datascope_nb.codeocean import TASKS, load_codeocean, rule_filter
from datascope_nb.core import read_manifest, write_jsonl
from datascope_nb.corpus import load_corpus

BIN = Path(sys.executable).parent
STAGES = {"format", "rules", "behaviour", "discriminator", "decontamination", "accepted"}
ONE_EACH = "generation=1,summarisation=1,repair=1,translation=1"


def datascope(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN/"datascope"), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def raw_file(tmp_path_factory) -> Path:
    "300 real corpus functions with docstring examples first (so repair can be behaviour-checked), as a raw-code JSONL file."
    recs = [r for r in load_corpus(kind="raw") if r["language"] == "python" and 3 <= r["code"].count("\n") + 1 <= 60]
    recs = sorted(recs, key=lambda r: ">>>" not in r["docstring"])[:300]
    return write_jsonl(recs, tmp_path_factory.mktemp("raw")/"raw.jsonl")


@pytest.fixture(scope="module")
def run(raw_file, tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("runs")
    out = datascope("codeocean", str(raw_file), "--n", "4", "--mix", ONE_EACH, "--embedding", "tfidf", "--pool", "0",
                    "--root", str(root))
    assert out.returncode == 0, out.stderr[-2000:]
    printed = json.loads(out.stdout)
    return Path(printed["run"]), printed


def test_every_task_is_generated_and_every_item_accounted_for(run):
    path, printed = run
    items = [json.loads(l) for l in open(path/"candidates.jsonl")]
    assert Counter(it["task_name"] for it in items) == {t: 1 for t in TASKS}
    for it in items:
        assert it["stage"] in STAGES, it["stage"]
        assert (it["reason"] is None) == (it["stage"] == "accepted"), it
        assert it["instruction"], f"{it['task_name']}: the generator wrote no instruction"
        # The information is the task's input, filled from the record, never from the model.
        assert bool(it["information"]) == (it["task_name"] != "generation")
        if it["stage"] in ("behaviour", "discriminator", "accepted"): assert rule_filter(it) is None
    repair = next(it for it in items if it["task_name"] == "repair")
    assert repair["bug"]["code"] != repair["code"] and repair["information"].count(repair["bug"]["after"]) >= 1
    translation = next(it for it in items if it["task_name"] == "translation")
    assert translation["target_language"] != "python"
    report = json.loads((path/"report.json").read_text())
    assert {k: v for k, v in report.items() if k != "coverage_radius"} == {k: v for k, v in printed.items() if k != "run"}
    assert sum(sum(v for k, v in r.items() if k in STAGES) for r in report["by_task"].values()) == 4
    assert sum(report["rejections"].values()) == 4 - report["accepted"]


def test_manifest_and_alpaca_output_agree_with_the_report(run):
    path, printed = run
    m = read_manifest(path)
    assert m["counts"]["kept"] == printed["accepted"]
    recs, report = load_codeocean(path)
    assert len(recs) == report["accepted"]
    for r in recs:
        assert {"instruction", "input", "output", "id", "language", "source"} <= set(r)
        assert r["source"].startswith("codeocean:")


def test_a_rerun_reuses_the_run(run, raw_file):
    path, _ = run
    out = datascope("codeocean", str(raw_file), "--n", "4", "--mix", ONE_EACH, "--embedding", "tfidf", "--pool", "0",
                    "--root", str(path.parent), timeout=120)
    assert out.returncode == 0 and json.loads(out.stdout)["run"] == str(path)


def test_without_the_discriminator_rule_passing_items_are_accepted(run, raw_file):
    path, _ = run
    out = datascope("codeocean", str(raw_file), "--n", "4", "--mix", ONE_EACH, "--embedding", "tfidf", "--pool", "0",
                    "--no-discriminator", "--root", str(path.parent))
    assert out.returncode == 0, out.stderr[-2000:]
    items = [json.loads(l) for l in open(Path(json.loads(out.stdout)["run"])/"candidates.jsonl")]
    assert not any(it["stage"] == "discriminator" for it in items)
    assert all(it["stage"] == "accepted" for it in items if rule_filter(it) is None and it["stage"] not in ("behaviour", "decontamination"))


def test_bad_rows_are_skipped_with_their_line_and_a_bad_mix_is_a_clear_error(raw_file, tmp_path):
    rows = [json.loads(l) for l in open(raw_file)][:3]
    bad = tmp_path/"bad.jsonl"
    bad.write_text("\n".join([json.dumps(rows[0]), json.dumps({"id": "nocode", "language": "python"}), "{not json"]) + "\n")
    out = datascope("codeocean", str(bad), "--mix", "refactor=1", "--n", "1")
    assert out.returncode == 2 and "unknown task 'refactor'" in out.stderr
    out = datascope("codeocean", str(bad), "--n", "1", "--mix", "summarisation=1", "--embedding", "tfidf", "--root", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    skips = read_manifest(json.loads(out.stdout)["run"])["skips"]
    assert {(s["line"], s["kind"]) for s in skips if s["path"] == str(bad)} == {(2, "missing_field"), (3, "bad_json")}, skips
