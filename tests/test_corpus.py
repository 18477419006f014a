"The corpus pipeline on two small pinned packages (dateutil, markdown): exact funnel, same bytes for any worker count, reruns."
import pytest

from datascope_nb.core import write_jsonl
from datascope_nb.corpus import build_corpus, corpus_files, corpus_run, default_sources, load_corpus, sft_from_raw
from datascope_nb.pipeline import load_run

PACKAGES = ["dateutil", "markdown", "no_such_package_here"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return build_corpus(packages=PACKAGES, root=tmp_path_factory.mktemp("corpus"), workers=1)


def _reasons(report):
    return {s["stage"]: (s["in"], s["out"], {r: v["count"] for r, v in s["reasons"].items()}) for s in report["stages"]}


def test_funnel_counts_every_file_and_function(small):
    run = load_run(small)
    assert (run.report["input"], run.report["accepted"], run.report["rejected"]) == (54, 183, 545)
    assert _reasons(run.report) == {
        "library_file": (54, 53, {"test_file": 1}),
        "read_source": (53, 52, {"generated": 1}),
        "functions": (52, 186, {"private": 299, "no_docstring": 167, "trivial": 74}),
        "dedup": (186, 183, {"duplicate_near": 3}),
    }
    assert run.report["per_source"] == {"python:dateutil": 40, "python:markdown": 143}
    assert run.report["stages"][1]["reasons"]["generated"]["first"] == {"id": "dateutil/_version.py",
                                                                       "detail": "generated-file banner in its first lines"}
    # the package that is not installed stays visible in the manifest, and the lock file is an input
    assert run.manifest["skip_reasons"] == {"not_installed": 1} and run.manifest["skips"][0]["path"] == "no_such_package_here"
    assert run.manifest["counts"] == {"kept": 183, "skipped": 1}
    assert [k.endswith("requirements.lock") for k in run.manifest["inputs"]] == [True]
    assert run.manifest["config"]["sources"] == [["dateutil", "python", "4.0.0"], ["markdown", "python", "3.11.3"]]


def test_records_sorted_by_id_and_sft_view(small):
    raw, sft = load_corpus(small), load_corpus(small, kind="sft")
    ids = [r["id"] for r in raw]
    assert (len(raw), ids[0], ids[-1]) == (183, "python:dateutil:easter.py:15", "python:markdown:util.py:388")
    assert ids == sorted(ids) and [r["id"] for r in sft] == ids
    assert list(sft) == [sft_from_raw(r) for r in raw]
    assert sft[0]["output"] == f"```python\n{raw[0]['code_without_docstring']}\n```"
    with pytest.raises(ValueError, match="unknown corpus view"): load_corpus(small, kind="html")


def test_same_bytes_for_any_worker_count(small, tmp_path):
    files = corpus_files(*default_sources(packages=PACKAGES))
    assert files[0] == {"id": "dateutil/__init__.py", "path": "__init__.py", "name": "dateutil", "language": "python",
                        "version": "4.0.0"}      # no install path: the run's name must not depend on where packages live
    one, two = (corpus_run(files, tmp_path/f"w{w}", workers=w, shard_size=8) for w in (1, 2))
    for f in ("raw.jsonl", "rejected.jsonl", "report.json"): assert (one.dir/f).read_bytes() == (two.dir/f).read_bytes()
    # the records are sorted by id in `dedup`, so they do not depend on the shard size either (the rejections' order does)
    assert two.records_path.read_bytes() == (small/"raw.jsonl").read_bytes()


def test_rerun_returns_the_finished_run_and_force_rebuilds(small):
    stamp = lambda: [(small/f).stat().st_mtime_ns for f in ("raw.jsonl", "report.json", "manifest.json")]
    before, created = stamp(), load_run(small).manifest["created"]
    assert build_corpus(packages=PACKAGES, root=small.parent) == small
    assert stamp() == before and load_run(small).manifest["created"] == created
    raw = (small/"raw.jsonl").read_bytes()
    assert build_corpus(packages=PACKAGES, root=small.parent, force=True, workers=1) == small
    assert stamp()[0] != before[0] and (small/"raw.jsonl").read_bytes() == raw


def test_a_corpus_with_no_functions_loads_empty(tmp_path):
    pkg = tmp_path/"src"/"tiny"; pkg.mkdir(parents=True)
    (pkg/"a.py").write_text("def _hidden(x):\n    return x\n")
    files = [{"id": "tiny/a.py", "path": "a.py", "name": "tiny", "language": "python", "root": str(pkg), "version": "0"}]
    run = corpus_run(files, tmp_path/"run", workers=1)
    assert (run.report["accepted"], _reasons(run.report)["functions"]) == (0, (1, 0, {"private": 1}))
    assert list(load_corpus(run.dir)) == [] and list(load_corpus(run.dir, kind="sft")) == []
    assert write_jsonl([], tmp_path/"e.jsonl").read_bytes() == run.records_path.read_bytes()
