"Dsel: lazy == plain greedy, dominance over the baselines on the default dataset, degenerate inputs, the CLI."
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from datascope_nb.core import load_records, read_manifest, write_jsonl
from datascope_nb.corpus import load_corpus
from datascope_nb.embed import embed_texts
from datascope_nb.dsel import (DEFAULT_MAX_JS, SELECTORS, api_coverage, dsel_greedy, dsel_greedy_plain, dsel_select,
                               lazy_matches_plain, length_js_divergence, random_selection_data, select_indices,
                               selection_data, selection_metrics, with_selection_fields)

BIN = Path(sys.executable).parent
BUDGETS = (0.01, 0.05, 0.10, 0.20, 0.30, 0.50)
# Dsel's JS divergence may exceed the random baseline's by at most this many bits: its own budget.
JS_TOLERANCE = DEFAULT_MAX_JS


def test_lazy_greedy_equals_plain_greedy_on_random_instances():
    assert lazy_matches_plain(instances=400, seed=7) == 400


def test_lazy_equals_plain_on_a_larger_zipf_instance():
    data = random_selection_data(3000, seed=3)
    for max_js in (0.0, DEFAULT_MAX_JS, math.inf):
        assert dsel_greedy(data, 450, seed=5, max_js=max_js) == dsel_greedy_plain(data, 450, seed=5, max_js=max_js)


@pytest.fixture(scope="module")
def sft():
    "The default dataset: the docstring->function SFT set of the default corpus (built on first use, then cached in runs/)."
    return load_corpus(kind="sft")


@pytest.fixture(scope="module")
def default_dataset(sft):
    "The default dataset with APIs and lengths read once, and its selection arrays."
    full = with_selection_fields(sft, desc=None)
    return full, selection_data(full)


def test_dsel_dominates_every_baseline_at_every_budget(default_dataset):
    full, data = default_dataset
    baselines = [m for m in SELECTORS if m not in ("dsel", "full")]
    # MiniLM is the papers notebook's embedding; TF-IDF keeps this test fast. Embed once for every budget.
    knobs = {"kcenter": {"vectors": embed_texts(data.codes, "tfidf")}}
    for budget in BUDGETS:
        def metrics(method):
            return selection_metrics([full[i] for i in select_indices(data, budget, method, 0, **knobs.get(method, {}))], full)
        dsel = metrics("dsel")
        for name in baselines:
            other = metrics(name)
            assert dsel["api_coverage"] >= other["api_coverage"], (budget, name, dsel, other)
        rnd = metrics("random")
        assert dsel["length_js_bits"] <= rnd["length_js_bits"] + JS_TOLERANCE, (budget, dsel, rnd)


def _no_api_records(n=20):
    return [{"id": f"n{i}", "instruction": "i", "output": "x = 1", "language": "python", "source": "t",
             "apis": [], "length": 10 * (i + 1)} for i in range(n)]


def test_degenerate_inputs_have_defined_results_or_clear_errors():
    recs = _no_api_records()
    with pytest.raises(ValueError, match="empty dataset"):
        dsel_select([], 0.1)
    with pytest.raises(ValueError, match="budget 21 exceeds the dataset's 20 records"):
        dsel_select(recs, 21)
    assert dsel_select(recs, 0) == [] and dsel_select(recs, 0.0) == []
    half = dsel_select(recs, 0.5)                         # no APIs at all: a length-matched seeded sample
    assert len(half) == 10 and len({r["id"] for r in half}) == 10
    assert api_coverage(half, recs) == 1.0 and length_js_divergence(half, recs) <= DEFAULT_MAX_JS
    assert [r["id"] for r in dsel_select(recs, 1.0)] != [] and len(dsel_select(recs, 1.0)) == 20
    with pytest.raises(ValueError, match="duplicate id 'n3' at records 3 and 20"):
        dsel_select(recs + recs[3:4], 5)


def test_selection_does_not_depend_on_input_order(sft):
    recs = with_selection_fields(sft[:2000], desc=None)
    forward = {r["id"] for r in dsel_select(recs, 0.1, seed=3)}
    backward = {r["id"] for r in dsel_select(recs[::-1], 0.1, seed=3)}
    assert forward == backward


def test_cli_select_writes_subset_metrics_and_manifest(sft, tmp_path):
    src = write_jsonl(sft[:500], tmp_path / "sft.jsonl")
    out = tmp_path / "run"
    res = subprocess.run([BIN / "datascope", "select", str(src), "--budget", "5%", "--method", "stratified", "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "report.json").read_text())
    assert (metrics["k"], metrics["method"], json.loads(res.stdout)["run"]) == (25, "stratified", str(out))
    subset = load_records(out / "subset.jsonl")
    full = with_selection_fields(sft[:500], desc=None)
    expected = selection_metrics([r for r in full if r["id"] in {s["id"] for s in subset}], full)
    assert (len(subset), metrics["api_coverage"]) == (25, expected["api_coverage"])
    assert metrics["length_js_bits"] == pytest.approx(expected["length_js_bits"])
    manifest = read_manifest(out)
    assert manifest["counts"]["kept"] == 25 and str(src) in manifest["inputs"]
    bad = subprocess.run([BIN / "datascope", "select", str(src), "--budget", "lots"], capture_output=True, text=True)
    assert bad.returncode == 2 and "budget must be a count" in bad.stderr


def test_cli_bench_dsel_reports_identical_subsets():
    res = subprocess.run([BIN / "datascope", "bench", "dsel", "--sizes", "2000", "--repeats", "1"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "corpus sample" in res.stdout and res.stdout.rstrip().endswith("yes")
