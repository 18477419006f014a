"""Every command, given a file it cannot use, says why (issue 27): binary, truncated and empty inputs of `apis`,
`codeocean`, `dgen`, `lintseq`, `select` and `eval score` each stop with status 2, the problem and its line, and the
fix; a file with some bad lines is used, with the bad lines reported."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

GOOD = {  # one valid line per command's input shape
    "sft": {"id": "a", "instruction": "Add.", "output": "def add(a, b):\n    return a + b\n", "language": "python", "source": "t"},
    "raw": {"id": "a", "language": "python", "package": "p", "path": "p.py", "name": "add", "docstring": "Add.",
            "code": "def add(a, b):\n    'Add.'\n    return a + b\n"},
    "catalogue": {"api": "numpy.add", "library": "numpy", "level": "basic"},
    "samples": {"task_id": "HumanEval/0", "completion": "    return False\n"},
}
COMMANDS = {  # command line (FILE is replaced by the input), and the shape of the input it reads
    "apis": (["apis", "FILE"], "sft"),
    "codeocean": (["codeocean", "FILE", "--n", "1"], "raw"),
    "dgen": (["dgen", "--catalogue", "FILE", "--n", "1"], "catalogue"),
    "lintseq": (["lintseq", "FILE", "--workers", "1"], "sft"),
    "select": (["select", "FILE", "--budget", "1"], "sft"),
    "eval score": (["eval", "score", "FILE"], "samples"),
}


def _inputs(tmp: Path, shape: str) -> dict[str, Path]:
    line = json.dumps(GOOD[shape]) + "\n"
    files = {"binary": gzip.compress(line.encode() * 3, mtime=0),      # a gzip file without its .gz suffix
             "truncated": line[: len(line) // 2].encode(),              # cut off mid-line
             "empty": b""}
    out = {}
    for kind, data in files.items():
        (p := tmp / f"{kind}.jsonl").write_bytes(data)
        out[kind] = p
    return out


def _run(cwd: Path, argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATASCOPE_HOME": str(cwd / "home"), "CI": "1"}
    return subprocess.run([str(BIN / "datascope"), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


EXPECT = {  # what the message must say, for each kind of bad input
    "binary": ["bad_encoding", "(first at line 1: not UTF-8", "fix: the file is not UTF-8 text: is it binary or compressed?",
               "nothing to work on"],
    "truncated": ["bad_json", "(first at line 1: ", "a truncated line?", "fix: each line must hold one complete JSON object",
                  "nothing to work on"],
    "empty": [":0: empty file: the file is empty"],
}


@pytest.mark.parametrize("kind", list(EXPECT))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_input_names_problem_and_line(tmp_path, command, kind):
    argv, shape = COMMANDS[command]
    path = _inputs(tmp_path, shape)[kind]
    res = _run(tmp_path, [str(path) if a == "FILE" else a for a in argv])
    assert res.returncode == 2, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.stderr.startswith(f"datascope {command.split()[0]}: error: {path}"), res.stderr
    for want in EXPECT[kind]: assert want in res.stderr, f"{want!r} not in:\n{res.stderr}"
    assert res.stdout == ""


@pytest.mark.parametrize("command", ["apis", "select", "eval score"])
def test_some_bad_lines_are_reported_and_the_rest_used(tmp_path, command):
    argv, shape = COMMANDS[command]
    good = GOOD[shape]
    rows = [good, {**good, "id": "b"}] if shape != "samples" else [good, {"task_id": "HumanEval/0", "completion": "    return True\n"}]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (path := tmp_path / "some.jsonl").write_text(text + '{"id": "c", "instr')
    res = _run(tmp_path, [str(path) if a == "FILE" else a for a in argv])
    assert res.returncode == 0, res.stderr
    assert f"{path}: read 3 " in res.stderr and "kept 2, skipped 1" in res.stderr, res.stderr
    assert "bad_json: 1 (first at line 3" in res.stderr, res.stderr


def test_fields_under_other_names_get_the_flag_to_pass(tmp_path):
    "A field name no common SFT shape uses: the error names the field and says which --map would fix it."
    (path := tmp_path / "renamed.jsonl").write_text(json.dumps({"id": "a", "instruction": "Add.", "answer": "x = 1"}) + "\n")
    res = _run(tmp_path, ["select", str(path), "--budget", "1"])
    assert res.returncode == 2
    assert "missing_field 'output': 1 (first at line 1: required field is missing)" in res.stderr, res.stderr
    assert "--map YOURS=output" in res.stderr and "answer" in res.stderr, res.stderr
    # `response`, a common SFT shape, needs no --map: only the language is left to say.
    path.write_text(json.dumps({"id": "a", "instruction": "Add.", "response": "x = 1"}) + "\n")
    res = _run(tmp_path, ["select", str(path), "--budget", "1", "--default", "language=python"])
    assert res.returncode == 0 and json.loads(res.stdout)["k"] == 1, res.stderr


def test_codeocean_without_candidates_says_why(tmp_path):
    "Valid records, none of them a candidate: the length rule, with the fix, instead of `k=0 must lie in [1, 0]`."
    (path := tmp_path / "short.jsonl").write_text(json.dumps({**GOOD["raw"], "code": "x = 1"}) + "\n")
    res = _run(tmp_path, ["codeocean", str(path), "--n", "1"])
    assert res.returncode == 2 and "must lie in" not in res.stderr
    assert "length 'code': 1 (first at record a: 1 lines)" in res.stderr and "3 to 60 lines" in res.stderr, res.stderr


def test_lintseq_with_nothing_converted_fails(tmp_path):
    (path := tmp_path / "bad_code.jsonl").write_text(json.dumps({**GOOD["sft"], "output": "def f(:\n  pass\n"}) + "\n")
    res = _run(tmp_path, ["lintseq", str(path), "--workers", "1"])
    assert res.returncode == 2 and res.stdout == "", res.stdout + res.stderr      # an input error, not an empty success
    assert f"{path}: no example became an edit sequence" in res.stderr, res.stderr
    assert "syntax_error x1 (first: a: does not parse: invalid syntax (line 1))" in res.stderr, res.stderr
