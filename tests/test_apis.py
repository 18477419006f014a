"API extraction and the corpus builder, on real code and the hand-labelled set (the catalogues: tests/test_catalogue.py)."
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from datascope_nb.apis import LANGUAGES, annotate_apis, api_stats, apis_run, extract_apis, extract_apis_ast, extraction_scores, load_gold
from datascope_nb.core import read_manifest
from datascope_nb.corpus import build_corpus, load_corpus, other_sources

BIN = Path(sys.executable).parent
SMALL = ["json", "email", "argparse", "http", "logging"]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    return build_corpus(packages=SMALL, root=tmp_path_factory.mktemp("corpus"))


def test_gold_set_precision_and_recall():
    gold = load_gold()
    assert len(gold) >= 60 and {g["language"] for g in gold} == set(LANGUAGES)
    s = extraction_scores(gold)
    assert s["precision"] >= 0.95 and s["recall"] >= 0.95 and s["parse_accuracy"] == 1.0, s
    py = [g for g in gold if g["language"] == "python"]
    assert extraction_scores(py, extract_apis_ast)["wrong"] == extraction_scores(py)["wrong"]


def test_tree_sitter_and_ast_agree_on_real_functions(small_corpus):
    recs = load_corpus(small_corpus)
    assert len(recs) > 300
    strip = lambda r: {k: v for k, v in r.items() if k != "error"}
    disagree = [r["id"] for r in recs if strip(extract_apis(r["code"])) != strip(extract_apis_ast(r["code"]))]
    assert disagree == []


def test_apis_run_is_annotate_apis_on_the_pipeline(small_corpus, tmp_path):
    "`apis_run` with two workers writes exactly what `annotate_apis` yields, in order, and `api_stats` of it in the report."
    recs = load_corpus(small_corpus)
    run = apis_run(recs, tmp_path / "run", workers=2)
    assert run.records_path.name == "apis.jsonl"
    assert run.records() == list(annotate_apis(recs))
    stats = json.loads(json.dumps(api_stats(run.records())))
    assert {k: run.report[k] for k in stats} == stats
    assert (run.report["input"], run.report["accepted"], run.report["rejected"]) == (len(recs), len(recs), 0)
    assert (run.report["records"], run.report["errors"], run.report["distinct_apis"], run.report["top_apis"][0]) == \
        (317, {}, 62, ["builtins.len", 50])


def test_corpus_is_deterministic_and_accounts_for_every_skip(small_corpus, tmp_path):
    again = build_corpus(packages=SMALL, root=tmp_path)
    assert (again/"raw.jsonl").read_bytes() == (small_corpus/"raw.jsonl").read_bytes()
    m = read_manifest(small_corpus)
    assert {"functions: private", "functions: no_docstring", "functions: trivial"} <= set(m["rejected"])
    assert m["counts"]["skipped"] == sum(m["skip_reasons"].values())
    recs = load_corpus(small_corpus)
    assert len({r["id"] for r in recs}) == len(recs)
    assert all(r["docstring"] and not r["name"].startswith("_") for r in recs)
    sft = load_corpus(small_corpus, kind="sft")
    assert [r["id"] for r in sft] == [r["id"] for r in recs] and all(r["output"].startswith("```python\n") for r in sft)


def test_cli_apis_keeps_bad_rows_visible(tmp_path):
    src = tmp_path / "d.jsonl"
    rows = [{"id": "a", "instruction": "i", "output": "```python\nimport numpy as np\nnp.zeros(3)\n```", "language": "python", "source": "t"},
            {"id": "b", "instruction": "i", "output": "def f(:", "language": "python", "source": "t"}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    res = subprocess.run([BIN / "datascope", "apis", str(src), "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    ann = [json.loads(l) for l in (tmp_path / "out" / "apis.jsonl").read_text().splitlines()]
    assert [(a["id"], a["apis"]) for a in ann] == [("a", ["numpy.zeros"]), ("b", [])]
    assert ann[1]["error"].startswith("syntax error at line 1")
    m = read_manifest(tmp_path / "out")
    assert m["counts"] == {"kept": 2, "skipped": 1} and m["skip_reasons"] == {"bad_json": 1}
    stats = json.loads((tmp_path / "out" / "report.json").read_text())        # api_stats is the run's summary
    assert stats["errors"] == {"syntax_error": 1} and stats["top_apis"] == [["numpy.zeros", 1]]


@pytest.mark.slow
def test_default_corpus_has_20k_python_functions(tmp_path):
    recs = load_corpus(build_corpus(root=tmp_path))
    assert sum(r["language"] == "python" for r in recs) >= 20_000


@pytest.mark.slow
@pytest.mark.skipif(len({s.language for s in other_sources()}) < 3, reason="run `make corpora` first")
def test_other_languages_have_1000_functions_each(tmp_path):
    recs = load_corpus(build_corpus(languages=("java", "javascript", "go"), root=tmp_path))
    counts = Counter(r["language"] for r in recs)
    assert all(counts[lang] >= 1000 for lang in ("java", "javascript", "go")), counts
