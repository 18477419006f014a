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
from datascope_nb.core import Records, Skip, write_jsonl
from datascope_nb.corpus import load_corpus
from datascope_nb.evaluate import humaneval_problems
from datascope_nb.lintseq import (DIFF_TOKEN, NO_NEWLINE, EditError, edit_states, fast_lint, lintseq_program, lintseq_record,
                                  lintseq_run, lintseq_sample, program_problem, pylint_lint, resolve_edits)
from datascope_nb.pipeline import Rejection, load_run

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
    run = lintseq_run(recs, s=2, workers=2, out=tmp_path/"run")
    outs = load_run(run.dir).records()
    reasons = {k: v["count"] for k, v in run.report["stages"][0]["reasons"].items()}
    # Nothing silently dropped: each record yields its 2 paths, or a rejection per missing path, or one for a bad program.
    bad = run.report["rejected"] - reasons.get("unverified", 0)
    assert len(outs) + reasons.get("unverified", 0) + 2 * bad == 2 * len(recs)
    assert "unverified" not in reasons, run.rejected()[:3]
    assert (len(outs), reasons) == ({"corpus": (1000, {}), "humaneval": (328, {})}[which])
    programs = {r["id"]: record_code(r)[0] for r in recs}
    for o in outs:
        assert o["meta"]["program"] == programs[o["meta"]["source_id"]]
        check_sequence(o["meta"]["program"], o["output"], fast_lint)


def test_pylint_mode_sequences_verify():
    "The pylint-compatible mode's sequences on HumanEval solutions round-trip and are clean under pylint's E/F/W0311/W0231."
    for rec in humaneval_records()[:6]:
        outs = lintseq_record(rec, s=2, linter="pylint")
        assert [o["id"] for o in outs] == [f"{rec['id']}#lintseq0", f"{rec['id']}#lintseq1"], outs
        for o in outs: check_sequence(o["meta"]["program"], o["output"], pylint_lint)


def test_same_output_with_one_and_two_workers(tmp_path):
    recs = humaneval_records()[:40]
    one = lintseq_run(recs, s=3, seed=7, workers=1, out=tmp_path / "one")
    two = lintseq_run(recs, s=3, seed=7, workers=2, out=tmp_path / "two")      # 40 records: two shards, one per worker
    assert (one.dir / "lintseq.jsonl").read_bytes() == (two.dir / "lintseq.jsonl").read_bytes()
    assert one.report["accepted"] == 120
    # and the input order does not matter either: each record's paths depend only on (seed, id)
    rev = lintseq_run(recs[::-1], s=3, seed=7, workers=2, out=tmp_path / "rev")
    by_id = lambda run: {o["id"]: o["output"] for o in run.records()}
    assert by_id(rev) == by_id(one)
    other = lintseq_run(recs, s=3, seed=8, workers=2, out=tmp_path / "seed8")
    assert by_id(other) != by_id(one)


def test_resume_after_kill(tmp_path, monkeypatch):
    "Kill a run after its first shard is written; the rerun computes only the second, and the file equals an uninterrupted run's."
    src, run = tmp_path / "he.jsonl", tmp_path / "run"
    write_jsonl(humaneval_records()[:60], src)       # two shards of LINTSEQ_SHARD = 32
    script = (f"from datascope_nb.core import load_records\nfrom datascope_nb.lintseq import lintseq_run\n"
              f"lintseq_run(list(load_records({str(src)!r})), s=3, workers=1, out={str(run)!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "DATASCOPE_QUIET": "1"})
    first = run / "shards" / "00-000000.done.json"
    deadline = time.time() + 120
    while time.time() < deadline and not first.exists(): time.sleep(0.02)
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert [p.name for p in (run / "shards").glob("*.done.json")] == [first.name] and not (run / "lintseq.jsonl").exists()
    import datascope_nb.lintseq as L
    from datascope_nb.core import load_records
    calls, record = [], L.lintseq_record
    monkeypatch.setattr(L, "lintseq_record", lambda rec, *a, **k: calls.append(rec["id"]) or record(rec, *a, **k))
    resumed = lintseq_run(list(load_records(src)), s=3, workers=1, out=run)      # one worker: the stage runs in this process
    assert calls == [r["id"] for r in humaneval_records()[32:60]]          # only the unfinished shard was computed
    monkeypatch.undo()
    fresh = lintseq_run(list(load_records(src)), s=3, workers=1, out=tmp_path / "fresh")
    assert (resumed.dir / "lintseq.jsonl").read_bytes() == (fresh.dir / "lintseq.jsonl").read_bytes()
    assert (resumed.report["accepted"], resumed.report["rejected"]) == (180, 0)


def test_bad_programs_get_recorded_skip_reasons(tmp_path):
    recs = [{"id": "ok", "instruction": "i", "output": "def f():\n    return 1\n"},
            {"id": "empty", "instruction": "i", "output": "```python\n\n```"},
            {"id": "comments", "instruction": "i", "output": "# only a comment\n"},
            {"id": "broken", "instruction": "i", "output": "```python\ndef f(:\n    pass\n```"},
            {"id": "huge", "instruction": "i", "output": "x = 1\n" * 2001},
            {"id": "go", "instruction": "i", "output": "```go\nfunc f() {}\n```"},
            {"id": "cr", "instruction": "i", "output": "x = 1\ry = 2\n"}]
    loaded = Records(recs, source="data.jsonl", skips=[Skip("data.jsonl", 9, "output", "missing_field", "no output")])
    run = lintseq_run(loaded, s=2, workers=1, out=tmp_path / "run")
    assert (run.report["accepted"], run.report["rejected"]) == (2, 6)
    assert {k: v["count"] for k, v in run.report["stages"][0]["reasons"].items()} == \
        {"empty": 2, "lone_cr": 1, "not_python": 1, "syntax_error": 1, "too_long": 1}
    assert {r.id: r.detail for r in run.rejected()}["broken"] == "does not parse: invalid syntax (line 1)"
    assert run.rejected()[3] == Rejection("huge", "lintseq", "too_long", "2001 lines, over the limit of 2000")
    assert run.manifest["counts"] == {"kept": 2, "skipped": 1} and run.manifest["skip_reasons"] == {"missing_field": 1}
    assert program_problem("x = 1\n" * 2001, max_lines=5000) is None


def test_duplicate_ids_are_an_error(tmp_path):
    recs = [{"id": "a", "instruction": "", "output": "x = 1\n"}] * 2
    with pytest.raises(ValueError, match="duplicate id 'a' at records 0 and 1"):
        lintseq_run(recs, out=tmp_path / "run")


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
    def cli(out: str) -> dict:
        res = subprocess.run([BIN / "datascope", "lintseq", str(src), "--map", "response=output", "--paths", "2", "--workers", "1",
                              "--out", str(tmp_path / out)], capture_output=True, text=True, env={**os.environ, "CI": "1"})
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)
    out = cli("one")
    assert (out["examples"], out["accepted"], out["rejected"], out["paths"]) == (3, 6, 0, 6)
    assert [r["id"] for r in load_run(out["run"]).records()] == ["r0#lintseq0", "r0#lintseq1", "r1#lintseq0", "r1#lintseq1",
                                                                 "r2#lintseq0", "r2#lintseq1"]
    # rows the loader rejects are reported in the manifest, not lost
    src.write_text(src.read_text() + json.dumps({"id": "bad", "response": "x = 1"}) + "\n")
    out = cli("two")
    run = load_run(out["run"])
    assert out["accepted"] == 6 and run.manifest["counts"] == {"kept": 6, "skipped": 1}
    assert run.manifest["skip_reasons"] == {"missing_field": 1}
