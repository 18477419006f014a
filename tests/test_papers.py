"`make paper` regenerates figures reproducibly, and a failing notebook names its cell."
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from datascope_nb.paper import PaperError, paper_notebooks, parameter_defaults, run_paper, run_papers

BIN = Path(sys.executable).parent


def test_data_card_reproduces_the_committed_figure_json(root, tmp_path):
    index = run_papers(only="data_card", out_dir=tmp_path / "runs", figures_dir=tmp_path / "figs")
    assert index[0]["figures"] == ["data_card.json", "data_card.png", "data_card.svg"]
    assert (tmp_path / "runs" / "data_card.ipynb").exists()
    fresh = (tmp_path / "figs" / "data_card.json").read_text()
    assert fresh == (root / "figures" / "data_card.json").read_text(), "figures/data_card.json is stale: run `make paper`"
    assert json.loads(fresh)["sources"][0]["records"] == 164
    entry = json.loads((tmp_path / "figs" / "manifest.json").read_text())["notebooks"]["data_card.ipynb"]
    assert entry["parameters"]["preset"] == "cpu" and entry["figures"] == index[0]["figures"]
    summary = (tmp_path / "figs" / "README.md").read_text()
    assert "![data_card](data_card.png)" in summary and "| `seed` | `0` |" in summary


def test_every_papers_notebook_takes_the_common_parameters():
    for nb in paper_notebooks():
        params = parameter_defaults(nb)  # raises when no cell is tagged `parameters`
        assert {"preset", "figures_dir", "seed"} <= set(params), f"{nb.name}: {sorted(params)}"
        assert params["preset"] == "cpu" and params["figures_dir"] is None, nb.name


def test_rerun_at_the_same_seed_reproduces_the_figure_json(root, tmp_path):
    figs = {name: tmp_path / name for name in ("first", "again", "other_seed")}
    def run(name, seed):
        run_papers(only="lintseq", params={"limit": 60, "seed": seed}, out_dir=tmp_path / "runs", figures_dir=figs[name])
        return {p.name: p.read_bytes() for p in sorted(figs[name].glob("lintseq_*.json"))}
    first = run("first", 3)
    assert set(first) == {"lintseq_clean.json", "lintseq_shape.json"}
    # The runs this notebook wrote (not the corpus it read) are deleted, so the re-run recomputes rather than reads back.
    runs = json.loads((figs["first"] / "manifest.json").read_text())["notebooks"]["lintseq.ipynb"]["runs"]
    made = [r["run"] for r in runs if r["run"].startswith("lintseq-")]
    assert made, runs
    for name in made: shutil.rmtree(root / "runs" / name)
    assert run("again", 3) == first
    other = json.loads(run("other_seed", 4)["lintseq_shape.json"])
    assert other["edits_per_path"] != json.loads(first["lintseq_shape.json"])["edits_per_path"], "the seed should matter"


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("preset = 'cpu'", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_failed_cell_is_named(tmp_path):
    nb = _notebook(tmp_path / "broken.ipynb", "x = 1", "raise ValueError(f'bad preset {preset}')")
    source = nb.read_bytes()
    with pytest.raises(PaperError, match=r"broken\.ipynb: cell \d+ \(execution count \d+\) failed: ValueError: bad preset gpu"):
        run_paper(nb, tmp_path / "out", {"preset": "gpu"})
    assert (tmp_path / "out" / "broken.ipynb").exists(), "the executed copy with the traceback is kept"
    assert nb.read_bytes() == source, "the source notebook is never overwritten"


def test_cli_reports_unknown_notebook_and_preset():
    res = subprocess.run([BIN / "datascope", "paper", "--only", "nope"], capture_output=True, text=True)
    assert res.returncode == 2 and "no papers notebook named 'nope'" in res.stderr
    res = subprocess.run([BIN / "datascope", "paper", "--preset", "tpu"], capture_output=True, text=True)
    assert res.returncode == 2 and "unknown preset 'tpu'" in res.stderr


def _locked(root: Path) -> dict[str, str]:
    "requirements.lock's pins, by normalised name."
    import re
    norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    return {norm(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", (root / "requirements.lock").read_text(), re.M)}


def test_the_environment_is_the_lock(root):
    "`make install` installs every locked package at its locked version (torch and llama-cpp-python are installed apart)."
    import re
    from importlib.metadata import distributions
    locked = _locked(root)
    assert len(locked) > 150 and "torch" not in locked and "llama-cpp-python" not in locked
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in distributions()}
    wrong = {name: (version, installed.get(name)) for name, version in locked.items() if installed.get(name) != version}
    assert not wrong, f"installed versions that are not the lock's (locked, installed): {wrong}"


@pytest.mark.slow
def test_figures_reproduce_in_a_fresh_environment_from_the_lock(root):
    "`make paper CHECK=1`: a fresh venv from requirements.lock and a scratch home regenerate every LLM-free figure JSON byte for byte."
    res = subprocess.run(["make", "paper", "CHECK=1"], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0 and "every figure JSON is byte-identical" in res.stdout, res.stdout[-3000:] + res.stderr[-3000:]
