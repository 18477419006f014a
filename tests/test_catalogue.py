"The API catalogues: receivers traced within a function, the usage corpus, the committed catalogues and their rebuild."
import json
import os
import zipfile
from pathlib import Path

import pytest

from datascope_nb.apis import extract_apis
from datascope_nb.catalogue import (SURFACES, api_index, build_catalogues, catalogue_run, load_catalogue, name_shared_frequency,
                                    surface_entries, traced_calls, usage_archives, usage_pins)
from datascope_nb.core import cache_dir, data_file

LIBRARIES = ("numpy", "pandas", "matplotlib")
# A numpy array's .ravel() and a string's .contains(): neither is pandas' or matplotlib's.
SNIPPET = '''
import numpy as np

def flatten(grid, pattern: str, x):
    a = np.zeros((2, 3))
    flat = a.ravel()
    found = pattern.contains("x")
    x.ravel(); x.contains(1); x.draw(None)          # untraced receivers
    return flat, found
'''


@pytest.fixture(scope="module")
def entries():
    return {lib: surface_entries(lib) for lib in SURFACES}


@pytest.fixture(scope="module")
def index(entries):
    return api_index([e for es in entries.values() for e in es])


def test_ravel_on_an_array_and_contains_on_a_string_count_for_nothing_in_pandas_or_matplotlib(index):
    [(unit, hits)] = traced_calls(SNIPPET, index)
    assert unit == "flatten" and hits == {"numpy.zeros", "numpy.ndarray.ravel"}
    assert not {h for h in hits if h.startswith(("pandas", "matplotlib"))}


def test_the_old_measure_shared_them_out_by_name(entries):
    rec = {"package": "demo", **extract_apis(SNIPPET)}
    assert name_shared_frequency(entries["pandas"], [rec], "pandas")["pandas.Index.ravel"] == 1.0
    assert name_shared_frequency(entries["matplotlib"], [rec], "matplotlib")["matplotlib.figure.Figure.contains"] > 0


def test_receivers_are_traced_through_returns_annotations_and_chains(index):
    code = '''
import pandas as pd
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

def report(path, fig: Figure, other):
    df = pd.read_csv(path)
    top = df.groupby("k").mean()
    df.head().to_csv("out.csv")
    ax = plt.subplots()[1]
    ax.set_title("t")
    fig.savefig("f.png")
    other.savefig("g.png")
'''
    [(_, hits)] = traced_calls(code, index)
    assert hits == {"pandas.read_csv", "pandas.DataFrame.groupby", "pandas.DataFrame.head", "pandas.DataFrame.to_csv",
                    "matplotlib.pyplot.subplots", "matplotlib.axes.Axes.set_title", "matplotlib.figure.Figure.savefig"}


def test_catalogues_from_a_small_usage_corpus(tmp_path):
    def wheel(name, files):
        path = tmp_path / f"{name}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            for member, text in files.items(): zf.writestr(member, text)
        return path
    demo = wheel("demo", {"demo/core.py": SNIPPET, "demo/broken.py": "def f(:\n",
                          "demo/tests/test_core.py": "import numpy as np\ndef test_it():\n    np.linalg.norm([1])\n"})   # tests: left out
    with_demo, corpus = build_catalogues(LIBRARIES, [("demo", demo, [])])
    without, _ = build_catalogues(LIBRARIES, [("empty", wheel("empty", {}), [])])      # the libraries' own docstrings alone
    gained = {lib: {e["api"]: e["frequency"] for e in with_demo[lib]} for lib in LIBRARIES}
    for lib in LIBRARIES:
        for e in without[lib]: gained[lib][e["api"]] -= e["frequency"]
    assert {(lib, a) for lib in LIBRARIES for a, n in gained[lib].items() if n} == {("numpy", "numpy.zeros"), ("numpy", "numpy.ndarray.ravel")}
    assert corpus["skips"] == {"syntax_error": 1} and "demo/broken.py" in corpus["first_skip"]["syntax_error"]
    assert corpus["files"][0]["file"] == demo.name and corpus["files"][0]["sources"] == 2     # the test file is left out


TUTORIAL_ENTRY_POINTS = {
    "numpy": ["numpy.array", "numpy.zeros", "numpy.arange", "numpy.linspace", "numpy.ones"],
    "pandas": ["pandas.read_csv", "pandas.DataFrame", "pandas.concat", "pandas.merge", "pandas.DataFrame.groupby"],
    "matplotlib": ["matplotlib.pyplot.plot", "matplotlib.pyplot.xlabel", "matplotlib.pyplot.subplots", "matplotlib.pyplot.figure"],
}


@pytest.mark.parametrize("library,minimum", [("numpy", 300), ("pandas", 200), ("matplotlib", 150)])
def test_committed_catalogues_are_split_by_measured_use(library, minimum):
    cat = load_catalogue(library)
    assert len(cat) >= minimum and sum(e["level"] == "basic" for e in cat) == 50
    keys = [(-e["frequency"], -e["packages"], e["api"]) for e in cat]
    assert keys == sorted(keys), "ranked by measured use"
    assert all(e["level"] == "basic" for e in cat[:50]) and cat[49]["frequency"] > 0
    basic = {e["api"] for e in cat if e["level"] == "basic"}
    assert [a for a in TUTORIAL_ENTRY_POINTS[library] if a not in basic] == []
    manifest = json.loads(data_file("catalogues", f"{library}.manifest.json").read_text())
    corpus = manifest["corpus"]
    assert corpus["kind"] == "usage" and corpus["units"] > 1000
    assert [f["package"] for f in corpus["files"]] == [p["name"] for p in usage_pins()]
    assert all(len(f["sha256"]) == 64 and f["sources"] > 0 for f in corpus["files"])


def test_a_missing_usage_corpus_names_the_make_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing wheel seaborn==0.13.2.*run `make usage-corpus`"):
        usage_archives([{"kind": "wheel", "name": "seaborn", "version": "0.13.2", "parts": []}], tmp_path)


def test_a_bad_pin_line_names_its_file_and_line(tmp_path):
    pins = tmp_path / "pins.txt"
    pins.write_text("# comment\nwheel seaborn==0.13.2\nwheel seaborn>=0.13\n")
    with pytest.raises(ValueError, match=r"pins.txt:3: expected 'wheel NAME==VERSION'"):
        usage_pins(pins)


@pytest.mark.slow
@pytest.mark.skipif(not (cache_dir("usage") / "wheels").is_dir(), reason="run `make usage-corpus` first")
def test_the_committed_catalogues_rebuild_byte_for_byte(tmp_path):
    catalogue_run(LIBRARIES, out=tmp_path)
    for lib in LIBRARIES:
        for name in (f"{lib}.jsonl", f"{lib}.manifest.json"):
            assert (tmp_path / name).read_bytes() == data_file("catalogues", name).read_bytes(), name
