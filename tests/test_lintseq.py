"LintSeq: verified edit sequences over real programs, determinism across workers, resume after a kill, skip reasons."
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datascope_nb.apis import record_code
from datascope_nb.core import read_manifest, write_jsonl
from datascope_nb.corpus import load_corpus
from datascope_nb.evaluate import humaneval_problems
from datascope_nb.lintseq import (DIFF_TOKEN, NO_NEWLINE, EditError, edit_states, fast_lint, lintseq_dataset, lintseq_program,
                                  lintseq_record, lintseq_sample, load_lintseq, program_problem, pylint_lint, resolve_edits)

BIN = Path(sys.executable).parent


def humaneval_records() -> list[dict]:
    "HumanEval's canonical solutions as SFT records: the prompt asks, prompt + solution is the program."
    return [{"id": p["task_id"], "instruction": p["prompt"], "output": p["prompt"] + p["canonical_solution"],
             "language": "python", "source": "humaneval"} for p in humaneval_problems()]


@pytest.fixture(scope="module")
def corpus_500() -> list[dict]:
    return [r for r in load_corpus(kind="sft") if r["language"] == "python"][:500]


def check_sequence(program: str, output: str, lint) -> None:
    "The properties every emitted sequence must have, checked independently of the writer's own verification."
    edits = output.split(DIFF_TOKEN)
    assert all(e.strip() for e in edits), "empty edit"
    assert edits[0].startswith("@@ -0,0 +1"), "the first edit must insert into the empty program"
    for e in edits:   # insertions only: every line is a header, an added line or the no-newline marker
        assert all(l.startswith(("@@ -", "+")) or l == NO_NEWLINE for l in e.split("\n")), e
        assert all(",0 +" in l for l in e.split("\n") if l.startswith("@@")), e
    states = edit_states(edits)
    assert states[-1] == program, "does not round-trip byte for byte"
    tolerated = {e.key for e in lint(program)}
    for k, text in enumerate(states[:-1]):
        bad = [e for e in lint(text) if e.key not in tolerated]
        assert not bad, f"state after edit {k} is not lint-clean: {bad[:2]}\n{text}"


@pytest.mark.parametrize("which", ["corpus", "humaneval"])
def test_fast_mode_sequences_verify(which, corpus_500, tmp_path):
    "Every sequence emitted for the first 500 corpus programs and all HumanEval solutions round-trips, stays clean, has no empty edit."
    recs = corpus_500 if which == "corpus" else humaneval_records()
    run = lintseq_dataset(recs, s=2, workers=2, root=tmp_path)
    outs, m = load_lintseq(run), read_manifest(run)
    # Nothing silently dropped: each record yields its 2 paths, or a skip per missing path, or one skip for a bad program.
    reasons = m["skip_reasons"]
    assert len(outs) + reasons.get("unverified", 0) + 2 * (m["counts"]["skipped"] - reasons.get("unverified", 0)) == 2 * len(recs)
    assert "unverified" not in m["skip_reasons"], m["skips"][:3]
    assert len(outs) >= 0.95 * 2 * len(recs)
    programs = {r["id"]: record_code(r)[0] for r in recs}
    for o in outs:
        assert o["meta"]["program"] == programs[o["meta"]["source_id"]]
        check_sequence(o["meta"]["program"], o["output"], fast_lint)


def test_pylint_mode_sequences_verify():
    "The pylint-compatible mode's sequences on HumanEval solutions round-trip and are clean under pylint's E/F/W0311/W0231."
    for rec in humaneval_records()[:6]:
        outs, skips = lintseq_record(rec, s=2, linter="pylint")
        assert len(outs) == 2 and not skips, skips
        for o in outs: check_sequence(o["meta"]["program"], o["output"], pylint_lint)


def test_same_output_with_one_and_two_workers(tmp_path):
    recs = humaneval_records()[:40]
    one = lintseq_dataset(recs, s=3, seed=7, workers=1, root=tmp_path / "one", chunk_size=4)
    two = lintseq_dataset(recs, s=3, seed=7, workers=2, root=tmp_path / "two", chunk_size=4)
    assert (one / "lintseq.jsonl").read_bytes() == (two / "lintseq.jsonl").read_bytes()
    # and the input order does not matter either: each record's paths depend only on (seed, id)
    rev = lintseq_dataset(recs[::-1], s=3, seed=7, workers=2, root=tmp_path / "rev", chunk_size=4)
    by_id = lambda run: {o["id"]: o["output"] for o in load_lintseq(run)}
    assert by_id(rev) == by_id(one)
    other = lintseq_dataset(recs, s=3, seed=8, workers=2, root=tmp_path / "seed8", chunk_size=4)
    assert by_id(other) != by_id(one)


def test_resume_after_kill(tmp_path):
    "Kill a run after its first chunk is written; the rerun finishes it, and the file equals an uninterrupted run's."
    src = tmp_path / "he.jsonl"
    write_jsonl(humaneval_records()[:60], src)
    script = (f"from datascope_nb.core import load_records\nfrom datascope_nb.lintseq import lintseq_dataset\n"
              f"lintseq_dataset(list(load_records({str(src)!r})), s=3, workers=1, chunk_size=3, root={str(tmp_path / 'runs')!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "DATASCOPE_QUIET": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "runs").glob("lintseq-*/parts/000001.skips.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL); proc.wait()
    run = next((tmp_path / "runs").glob("lintseq-*"))
    done_before = len(list((run / "parts").glob("*.skips.json")))
    assert 2 <= done_before < 20 and not (run / "lintseq.jsonl").exists(), done_before
    from datascope_nb.core import load_records
    resumed = lintseq_dataset(list(load_records(src)), s=3, workers=1, chunk_size=3, root=tmp_path / "runs")
    assert resumed == run
    fresh = lintseq_dataset(list(load_records(src)), s=3, workers=1, chunk_size=3, root=tmp_path / "fresh")
    assert (resumed / "lintseq.jsonl").read_bytes() == (fresh / "lintseq.jsonl").read_bytes()
    assert read_manifest(resumed)["counts"] == {"kept": 180, "skipped": 0}


def test_bad_programs_get_recorded_skip_reasons(tmp_path):
    recs = [{"id": "ok", "instruction": "i", "output": "def f():\n    return 1\n"},
            {"id": "empty", "instruction": "i", "output": "```python\n\n```"},
            {"id": "comments", "instruction": "i", "output": "# only a comment\n"},
            {"id": "broken", "instruction": "i", "output": "```python\ndef f(:\n    pass\n```"},
            {"id": "huge", "instruction": "i", "output": "x = 1\n" * 2001},
            {"id": "go", "instruction": "i", "output": "```go\nfunc f() {}\n```"},
            {"id": "cr", "instruction": "i", "output": "x = 1\ry = 2\n"}]
    run = lintseq_dataset(recs, s=2, workers=1, root=tmp_path)
    m = read_manifest(run)
    assert m["counts"] == {"kept": 2, "skipped": 6}
    assert m["skip_reasons"] == {"empty": 2, "lone_cr": 1, "not_python": 1, "syntax_error": 1, "too_long": 1}
    reasons = {s["path"]: s["reason"] for s in m["skips"]}
    assert "line 1" in reasons["broken"] and "2001 lines" in reasons["huge"]
    assert program_problem("x = 1\n" * 2001, max_lines=5000) is None


def test_duplicate_ids_are_an_error(tmp_path):
    recs = [{"id": "a", "instruction": "", "output": "x = 1\n"}] * 2
    with pytest.raises(ValueError, match="duplicate id 'a' at records 0 and 1"):
        lintseq_dataset(recs, root=tmp_path)


def test_sampler_covers_every_line_once_and_is_seeded():
    program = humaneval_records()[0]["output"]
    a, b = lintseq_sample(program, 3), lintseq_sample(program, 3)
    assert a == b
    lines = sorted(i for step in a["deletions"] for i in step)
    assert lines == list(range(len(program.splitlines())))
    assert all(a["deletions"])


def test_strict_resolver_names_the_edit_and_line():
    with pytest.raises(EditError, match=r"edit 1, line 2: not a hunk header"):
        resolve_edits(["@@ -0,0 +1 @@\n+x = 1", "@@ -1,0 +2 @@\n y = 2"])
    with pytest.raises(EditError, match="deletes lines"):
        resolve_edits(["@@ -1 +0,0 @@\n-x = 1"])
    program, problems = lintseq_program("@@ -0,0 +1,2 @@\n+def f():\n+    return 1\n<|diff|>garbage")
    assert program == "def f():\n    return 1\n" and problems and "garbage" in problems[0]


def test_cli_lintseq_on_a_mapped_jsonl(tmp_path):
    src = tmp_path / "data.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "instruction": "Add.", "response": f"def add{i}(a, b):\n    return a + b\n"}) + "\n"
                           for i in range(3)))
    res = subprocess.run([BIN / "datascope", "lintseq", str(src), "--map", "response=output", "--paths", "2", "--workers", "1",
                          "--root", str(tmp_path / "runs")], capture_output=True, text=True, env={**os.environ, "CI": "1"})
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["kept"] == 6 and out["skipped"] == 0 and Path(out["run"], "lintseq.jsonl").exists()
    # rows the loader rejects are reported in the manifest, not lost
    src.write_text(src.read_text() + json.dumps({"id": "bad", "response": "x = 1"}) + "\n")
    res = subprocess.run([BIN / "datascope", "lintseq", str(src), "--map", "response=output", "--paths", "2", "--workers", "1",
                          "--root", str(tmp_path / "runs")], capture_output=True, text=True, env={**os.environ, "CI": "1"})
    out = json.loads(res.stdout)
    assert res.returncode == 0 and out["kept"] == 6 and out["skip_reasons"] == {"missing_field": 1}, res.stdout
