"""Device readiness: the base model travels in parts checked by SHA-256; the device plan fits its budget; and (slow) every
`gpu` cell of papers/train_compare runs here at toy size (the dry run), as does the whole device command, run.sh --toy."""
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from datascope_nb.core import content_hash, runs_home
from datascope_nb.device import (CALL_LIMIT, MiB, PART_LIMIT, HashMismatch, device_plan, dry_run_params, format_sizes,
                                 join_parts, notebook_script, parse_sizes, read_parts_manifest, split_file,
                                 write_bundle)
from datascope_nb.llm import smollm2_path
from datascope_nb.train import TRAIN_PRESETS

BIN = Path(sys.executable).parent
NOTEBOOK_SIZES = {"programs", "steps", "problems", "samples", "max_tokens", "pool", "fractions", "eval_problems", "eval_batch",
                  "dgen_n", "codeocean_n"}


def test_split_join_and_verify(tmp_path):
    data = os.urandom(3 * MiB + 17)
    src = tmp_path/"model.gguf"; src.write_bytes(data)
    manifest = split_file(src, tmp_path/"carry", [2 * MiB, MiB + 17])
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest() and [p["bytes"] for p in manifest["parts"]] == [2 * MiB, MiB + 17]
    # each call's folder holds its part and the whole manifest
    for i in range(2): assert json.loads((tmp_path/"carry"/f"part-{i}"/"parts.json").read_text()) == manifest
    joined = join_parts(tmp_path/"carry")
    assert joined.read_bytes() == data and content_hash(joined) == manifest["sha256"]
    assert join_parts(tmp_path/"carry") == joined                   # already joined and checked: nothing to do
    assert not list((tmp_path/"carry").glob("*.tmp*"))


def test_a_damaged_or_missing_part_is_named(tmp_path):
    src = tmp_path/"m.bin"; src.write_bytes(os.urandom(5000))
    split_file(src, tmp_path/"c", 2000)                             # equal parts of at most 2000 bytes
    assert [p["bytes"] for p in read_parts_manifest(tmp_path/"c")["parts"]] == [1667, 1667, 1666]
    part = tmp_path/"c"/"part-1"/"m.bin.1"
    part.write_bytes(part.read_bytes()[:-1] + b"\0")
    with pytest.raises(HashMismatch, match=r"part-1/m.bin.1: SHA-256 .* carry that part again"):
        join_parts(tmp_path/"c", tmp_path/"out.bin")
    assert not (tmp_path/"out.bin").exists()                         # nothing half-written
    (tmp_path/"c"/"part-2"/"m.bin.2").unlink()
    with pytest.raises(FileNotFoundError, match="part-2"):
        join_parts(tmp_path/"c", tmp_path/"out.bin")
    big = tmp_path/"big.bin"
    with open(big, "wb") as f: f.truncate(PART_LIMIT + 1)           # sparse: no 60 MiB written
    with pytest.raises(ValueError, match="over PART_LIMIT"):
        split_file(big, tmp_path/"d", [PART_LIMIT + 1])
    with pytest.raises(ValueError, match="do not add up"):
        split_file(src, tmp_path/"d", [10, 10])


def test_the_real_gguf_travels_in_two_parts_under_the_call_limit(tmp_path):
    "The embedded model's 98 MB GGUF, split as write_bundle splits it, joins back to the same SHA-256."
    gguf = smollm2_path()
    size = gguf.stat().st_size
    first = min(PART_LIMIT, CALL_LIMIT - 8 * MiB)
    manifest = split_file(gguf, tmp_path, [first, size - first])
    assert len(manifest["parts"]) == 2 and all(p["bytes"] <= PART_LIMIT for p in manifest["parts"])
    assert content_hash(join_parts(tmp_path)) == content_hash(gguf) == manifest["sha256"]


def test_sizes_round_trip_and_the_notebook_becomes_a_script(root):
    sizes = {"steps": 59, "fractions": (0.1, 0.2, 0.3), "pool": None, "gradient_checkpointing": False}
    assert parse_sizes(format_sizes(sizes)) == sizes
    script = notebook_script(root/"nbs"/"papers"/"train_compare.ipynb", {"preset": "gpu", "sizes": format_sizes(sizes)})
    compile(script, "train_compare.py", "exec")
    params_at, injected_at = script.index('preset = "cpu"'), script.index("preset = 'gpu'")
    assert params_at < injected_at < script.index("SIZES = {")         # after the defaults, before they are used


def test_the_device_plan_fits_its_budget_and_names_only_known_sizes():
    plan = device_plan()
    assert sum(plan["estimate_s"].values()) <= plan["budget_s"] == 540
    assert set(plan["sizes"]) <= NOTEBOOK_SIZES | set(TRAIN_PRESETS["gpu"])
    assert plan["sizes"]["programs"] * 5 >= plan["sizes"]["steps"] * plan["sizes"]["global_batch"]   # (a) never runs out of data
    slow = device_plan(tokens_per_s=plan["tokens_per_s"] / 2)
    assert slow["sizes"]["steps"] < plan["sizes"]["steps"] and slow["sizes"]["pool"] < plan["sizes"]["pool"]


@pytest.fixture
def scratch_home(tmp_path, monkeypatch):
    "A scratch DATASCOPE_HOME that reuses the built corpus (read-only links), so the slow runs leave runs/ untouched."
    home = tmp_path/"home"; home.mkdir()
    for corpus in runs_home().glob("corpus-*"): (home/corpus.name).symlink_to(corpus.resolve())
    monkeypatch.setenv("DATASCOPE_HOME", str(home))
    monkeypatch.setenv("DATASCOPE_QUIET", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    return home


def _figure(figures: Path, name: str) -> dict:
    return json.loads((figures/f"{name}.json").read_text())


@pytest.mark.slow
def test_gpu_cells_dry_run_on_cpu(root, tmp_path, scratch_home):
    "The dry run: papers/train_compare with the gpu preset, every gpu cell, at toy size with a 2-layer model, through papermill."
    from datascope_nb.paper import run_paper
    params = dry_run_params(tmp_path/"dry")
    started = time.perf_counter()
    run_paper(root/"nbs"/"papers"/"train_compare.ipynb", tmp_path/"executed", params)
    print(f"dry run: {time.perf_counter() - started:.0f} s")
    figures = Path(params["figures_dir"])
    for name in ("train_lintseq_loss", "train_lintseq_passk", "train_dsel_pass1", "train_dgen_codeocean"):
        assert {f"{name}.{ext}" for ext in ("png", "svg", "json")} <= {p.name for p in figures.iterdir()}, name
    dsel = _figure(figures, "train_dsel_pass1")
    assert dsel["device"].startswith("cpu (") and dsel["training"]["bf16"] and dsel["training"]["gradient_checkpointing"]
    assert set(dsel["pass@1"]) == {"full", "dsel-25%", "random-25%"} and dsel["problems"] == 2
    assert all(r["steps"] >= 1 for r in dsel["runs"].values())
    tuned = _figure(figures, "train_dgen_codeocean")
    assert tuned["skipped"] == {} and tuned["dgen_examples"] == tuned["codeocean_examples"] == 6
    assert _figure(figures, "train_lintseq_passk")["device_name"].startswith("cpu (")


@pytest.mark.slow
def test_device_command_runs_end_to_end_with_toy_switch(root, tmp_path, scratch_home):
    "write_bundle(toy=True), then the device's one command, bash run.sh --toy, from the repository root as the device runs it."
    bundle = write_bundle(tmp_path/"device", toy=True)
    assert all(call["bytes"] <= CALL_LIMIT for call in bundle["calls"]), bundle["calls"]
    assert {p.name for p in (tmp_path/"device"/"bundle"/"data").iterdir()} >= {"plain.jsonl.gz", "lintseq.jsonl.gz", "full.jsonl.gz",
                                                                                "dsel-0.25.jsonl.gz", "random-0.25.jsonl.gz"}
    out = tmp_path/"out"
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(out), "DATASCOPE_DEVICE_SITE": str(tmp_path/"site")}
    started = time.perf_counter()
    r = subprocess.run(["bash", str(tmp_path/"device"/"bundle"/"run.sh"), "--toy"], cwd=root, env=env, capture_output=True, text=True)
    print(f"device command (toy): {time.perf_counter() - started:.0f} s")
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    report = json.loads((out/"device_report.json").read_text())
    assert report["returncode"] == 0 and report["toy"] and report["model_sha256"] == content_hash(smollm2_path())
    assert report["throughput"]["packed"]["tokens_per_s"] > 0
    with tarfile.open(out/"figures.tar.gz") as tar:
        names = set(tar.getnames())
        tuned = json.load(tar.extractfile("figures/train_dgen_codeocean.json"))
    assert {f"figures/{n}.json" for n in ("train_lintseq_loss", "train_lintseq_passk", "train_dsel_pass1", "train_dgen_codeocean")} <= names
    # as on the device, where the embedded generator leaves (c) and (d) nothing to train on: skipped, with the reason
    assert len(tuned["skipped"]) == 2 and all("0 accepted items" in why for why in tuned["skipped"].values())
    assert tuned["device"] == report["device"]
    assert len(list(out.iterdir())) <= 8                             # what the device tool brings back: 8 files at most
