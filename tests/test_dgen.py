"Dgen: the skeleton sampler's legality over 10,000 draws, and `datascope dgen` end to end with a kill and a resume."
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from datascope_nb.core import read_manifest, read_rows
from datascope_nb.dgen import FUNNEL, control_tree, functions, render_skeleton, sample_skeleton, skeleton_violations
from datascope_nb.apis import parse_code, syntax_error

BIN = Path(sys.executable).parent


def test_skeleton_sampler_emits_only_legal_skeletons_over_10000_draws():
    sizes, keywords = Counter(), Counter()
    for i in range(10_000):
        sk = sample_skeleton(random.Random(i))
        text = render_skeleton(sk, stand_in=True)
        assert syntax_error(parse_code(text, "python")) is None, text           # tree-sitter parses every stand-in
        assert skeleton_violations(sk) == [], (i, skeleton_violations(sk), text)
        assert control_tree(functions(text)[0][1].child_by_field_name("body")) == sk["body"]
        sizes[sk["n"]] += 1
        for kw, c in Counter(k for k in _keywords(sk["body"])).items(): keywords[kw] += c
    assert set(sizes) <= {2, 3, 4, 5, 6} and sizes.most_common(1)[0][0] == 4        # Normal(4, 1), clipped
    assert keywords["if"] > keywords["for"] > keywords["while"]                     # the reference's weights, through legality
    assert keywords["except"] >= keywords["try"]                                    # every try has its except


def _keywords(nodes):
    for n in nodes:
        yield n["kw"]; yield from _keywords(n["body"])


def _llm_lines(run: Path) -> dict[str, list]:
    return {p.name: [(r["id"], r["sample"]) for _, r in read_rows(p)] for p in sorted(run.glob("llm-*.jsonl"))}


def test_cli_dgen_killed_and_rerun_loses_and_duplicates_nothing(tmp_path):
    args = [str(BIN/"datascope"), "dgen", "--library", "numpy", "--n", "3", "--level", "1", "--root", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline:                       # kill it once the first answers are on disk
        files = list(tmp_path.glob("dgen-*/llm-design.jsonl"))
        if files and files[0].read_text().count("\n") >= 1: break
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    run = next(tmp_path.glob("dgen-*"))
    assert not (run/"dgen.jsonl").exists()
    before = _llm_lines(run)
    out = subprocess.run(args, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert Path(report["run"]) == run
    after = _llm_lines(run)
    for name, keys in after.items():
        assert len(keys) == len(set(keys)) == 3, (name, keys)                     # nothing duplicated, nothing lost
        assert keys[:len(before.get(name, []))] == before.get(name, [])           # earlier answers kept, not redone
    cands = [r for _, r in read_rows(run/"candidates.jsonl")]
    assert sorted(c["id"] for c in cands) == [f"numpy-L1-{i:05d}" for i in range(3)]
    assert all(c["stage"] in (*FUNNEL, "accepted") and (c["stage"] == "accepted") != bool(c["reason"]) for c in cands)
    assert report["funnel"]["format"]["reached"] == 3 and report["accepted"] == sum(c["stage"] == "accepted" for c in cands)
    manifest = read_manifest(run)
    assert manifest["counts"] == {"kept": report["accepted"], "skipped": 3 - report["accepted"]}
    assert len(manifest["skips"]) == 3 - report["accepted"]
    accepted = [r for _, r in read_rows(run/"dgen.jsonl")] if (run/"dgen.jsonl").stat().st_size else []
    assert all(r["source"] == "dgen:numpy" and r["meta"]["api_fraction"] == 1.0 for r in accepted)
    # Run again: the finished run is returned as it is.
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert json.loads(again.stdout) == report
