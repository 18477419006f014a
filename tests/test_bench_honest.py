"""Bench cannot be passed by copying (issue 24). Scored the way `datascope eval` scores Bench (`evaluate.score_bench`, the
sandbox), three copying solutions each pass no problem: the documented output as a literal, a memo of the reference's value
for the documented inputs only, and a function that calls nothing; the reference solutions pass every problem. On the first
Bench (no-argument problems that showed their value) the literal copy passed 166 of 297 problems and a memo every one."""
import json
from collections import Counter

import pytest

from datascope_nb.bench import BENCH_LIBRARIES, bench_path, calls_api, copying_solutions, load_bench

COPIES = ("literal", "memo", "nothing")


def _passed(problems: list[dict]) -> dict[str, list[str]]:
    "For the reference and each copying solution: the ids of the problems it passes, by evaluate's Bench scorer."
    from datascope_nb.evaluate import score_bench
    who = ["reference", *COPIES]
    samples = [{"task_id": p["task_id"], "completion": p["reference"] if how == "reference" else copying_solutions(p)[how]}
               for how in who for p in problems]
    results = score_bench(samples, problems, timeout=30.0, desc=None)
    assert [r["task_id"] for r in results] == [s["task_id"] for s in samples]
    n = len(problems)
    return {how: [r["task_id"] for r in results[i * n:(i + 1) * n] if r["passed"]] for i, how in enumerate(who)}


def _fixed_subset() -> list[dict]:
    "The first two problems of each library, and the first matplotlib figure problem from each source."
    bench = load_bench()
    picked = [p for lib in BENCH_LIBRARIES for p in [q for q in bench if q["library"] == lib][:2]]
    for source in ("docstring", "signature"):
        picked += [p for p in bench if p["kind"] == "figure" and p["source"] == source and p not in picked][:1]
    return picked


def test_copying_scores_zero_and_references_full_on_a_fixed_subset():
    problems = _fixed_subset()
    assert {p["kind"] for p in problems} == {"value", "figure"} and len(problems) >= 7
    passed = _passed(problems)
    assert len(passed["reference"]) == len(problems), set(p["task_id"] for p in problems) - set(passed["reference"])
    assert {how: passed[how] for how in COPIES} == {how: [] for how in COPIES}


@pytest.mark.slow
def test_copying_scores_zero_and_references_full_on_every_problem():
    problems = load_bench()
    passed = _passed(problems)
    assert len(passed["reference"]) == len(problems), set(p["task_id"] for p in problems) - set(passed["reference"])
    assert {how: passed[how] for how in COPIES} == {how: [] for how in COPIES}


def test_bench_size_variants_and_hidden_outputs():
    bench = load_bench()
    by_lib = Counter(p["library"] for p in bench)
    assert by_lib["numpy"] + by_lib["pandas"] >= 150 and by_lib["matplotlib"] >= 50, by_lib
    assert len({p["task_id"] for p in bench}) == len(bench)
    # Every problem is a function of its inputs, with at least one hidden variant, and its instruction shows no output.
    assert all(p["params"] and p["variants"] and f"solution({', '.join(p['params'])})" in p["instruction"] for p in bench)
    # (The documented inputs are shown, and an output may equal an input: `matmul` by the identity.)
    shown = [p["task_id"] for p in bench if len(p["want"].strip()) > 12 and p["want"].strip() in p["instruction"].replace(p["setup"], "")]
    assert shown == []
    manifest = json.loads(bench_path().with_name("bench.manifest.json").read_text())
    assert manifest["kept_by_library"] == dict(by_lib)
    assert manifest["variants"]["kept"] == sum(len(p["variants"]) for p in bench)
    assert manifest["variants"]["dropped"] == sum(p["variants_dropped"] for p in bench)
    assert manifest["variants"]["kept"] + manifest["variants"]["dropped"] == manifest["variants"]["tried"]


def test_calls_api_is_recorded_apart_from_passing():
    bench = load_bench()
    assert all(calls_api(p, p["reference"]) for p in bench)
    assert not any(calls_api(p, copying_solutions(p)["nothing"]) for p in bench)


def test_dgen_holds_out_the_apis_bench_is_about():
    from datascope_nb.dgen import held_out_apis
    bench = load_bench()
    for lib in BENCH_LIBRARIES:
        assert held_out_apis(lib) == {p["api"] for p in bench if p["library"] == lib} != set()
