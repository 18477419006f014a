"`make paper` regenerates figures reproducibly, and a failing notebook names its cell."
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from datascope_nb.paper import PaperError, run_paper, run_papers

BIN = Path(sys.executable).parent


def test_data_card_reproduces_the_committed_figure_json(root, tmp_path):
    index = run_papers(only="data_card", out_dir=tmp_path / "runs", figures_dir=tmp_path / "figs")
    assert index[0]["figures"] == ["data_card.json", "data_card.png", "data_card.svg"]
    assert (tmp_path / "runs" / "data_card.ipynb").exists()
    fresh = (tmp_path / "figs" / "data_card.json").read_text()
    assert fresh == (root / "figures" / "data_card.json").read_text(), "figures/data_card.json is stale: run `make paper`"
    assert json.loads(fresh)["sources"][0]["records"] == 164


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
