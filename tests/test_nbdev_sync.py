"The notebooks are the source: exporting and cleaning them must change nothing in the repository."
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}


def _copy_project(root: Path, dst: Path) -> Path:
    for name in ["settings.ini", "setup.py", "pyproject.toml", "README.md"]:
        if (root / name).exists(): shutil.copy(root / name, dst / name)
    shutil.copytree(root / "nbs", dst / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(root / "datascope_nb", dst / "datascope_nb", ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _diff(a: dict, b: dict) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def test_nbdev_export_leaves_no_diff(root, tmp_path):
    work = _copy_project(root, tmp_path)
    subprocess.run([BIN / "nbdev_export"], cwd=work, check=True, capture_output=True)
    changed = _diff(_tree(root / "datascope_nb"), _tree(work / "datascope_nb"))
    assert not changed, f"datascope_nb/ is out of sync with nbs/ (run nbdev_export): {changed}"


def test_nbdev_clean_leaves_no_diff(root, tmp_path):
    work = _copy_project(root, tmp_path)
    subprocess.run([BIN / "nbdev_clean"], cwd=work, check=True, capture_output=True)
    changed = _diff(_tree(root / "nbs"), _tree(work / "nbs"))
    assert not changed, f"notebooks are not clean (run nbdev_clean): {changed}"


def test_papers_parameters_cells_keep_their_tag(root):
    import json
    for nb in sorted((root / "nbs" / "papers").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{nb.name}: expected one cell tagged 'parameters', found {len(tagged)}"
