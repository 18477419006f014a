"The newcomer's flows through the `datascope` console script: a plain Alpaca file and a truncated JSONL give results or actionable messages."
import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
ALPACA = [{"instruction": "Add one to x.", "input": "", "output": "def add_one(x):\n    return x + 1"},
          {"instruction": "Return the larger of a and b.", "input": "", "output": "def larger(a, b):\n    return max(a, b)"},
          {"instruction": "Sum a list.", "input": "[1, 2]", "output": "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s"},
          {"instruction": "Strip a string.", "input": "", "output": "def clean(s):\n    return s.strip().lower()"}]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATASCOPE_HOME": str(tmp_path / "home"), "DATASCOPE_QUIET": "1"}
    return subprocess.run([BIN / "datascope", *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def test_a_plain_alpaca_file_is_selected_from(tmp_path):
    "No id, language or source: ids come from the lines, the source from the file's name, the language from a parse."
    (tmp_path / "data.json").write_text(json.dumps(ALPACA, indent=1))
    res = _run(tmp_path, "select", "data.json", "--budget", "50%", "--workers", "1")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert (summary["k"], summary["n"], Path(summary["run"]).parent) == (2, 4, (tmp_path / "home").resolve())
    subset = [json.loads(line) for line in (Path(summary["run"]) / "subset.jsonl").read_text().splitlines()]
    assert {(r["source"], r["language"], r["meta"]["language_from"]) for r in subset} == {("data", "python", "parse")}


def test_an_alpaca_file_whose_language_cannot_be_told_says_what_to_pass(tmp_path):
    rows = [{"instruction": "Set x.", "output": "x = 1"}, {"instruction": "Set y.", "output": "y = 2"}]   # Python, Go and JS alike
    (tmp_path / "data.json").write_text(json.dumps(rows, indent=1))
    res = _run(tmp_path, "select", "data.json", "--budget", "1")
    assert res.returncode == 2
    assert "read 2 records, kept 0, skipped 2" in res.stderr and "(first at line 2" in res.stderr, res.stderr
    assert "--default language=python" in res.stderr and "nothing to work on" in res.stderr, res.stderr
    res = _run(tmp_path, "select", "data.json", "--budget", "1", "--default", "language=python")
    assert res.returncode == 0 and json.loads(res.stdout)["k"] == 1, res.stderr


def test_a_truncated_last_line_is_named_and_the_rest_is_used(tmp_path):
    lines = [json.dumps({"instruction": r["instruction"], "output": f"```python\n{r['output']}\n```"}) for r in ALPACA]
    (tmp_path / "train.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:30])
    res = _run(tmp_path, "lintseq", "train.jsonl", "--paths", "1", "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "train.jsonl: read 4 records, kept 3, skipped 1" in res.stderr, res.stderr
    assert "bad_json: 1 (first at line 4" in res.stderr and "is the file truncated" in res.stderr, res.stderr
    summary = json.loads(res.stdout)
    assert (summary["examples"], summary["accepted"]) == (3, 3)
