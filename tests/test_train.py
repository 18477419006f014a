"""Train: packing does not let examples see each other; a killed `datascope train` resumes to the run it would have been;
the checkpoint reloads and is evaluated; the real cpu-smoke preset end to end (slow)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from datascope_nb.core import read_manifest
from datascope_nb.corpus import load_corpus
from datascope_nb.evaluate import evaluate_checkpoint
from datascope_nb.llm import checkpoint_identity
from datascope_nb.train import IGNORE, base_model_dir, collate_packed, example_losses, pack_examples, tokenize_records

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def corpus():
    return [r for r in load_corpus(kind="sft") if r["language"] == "python"]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, corpus):
    "The first 64 corpus examples as a JSONL file: what a user passes with --data, and quicker to load than the corpus."
    path = tmp_path_factory.mktemp("data")/"sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in corpus[:64]))
    return path


@pytest.fixture(scope="module")
def base():
    return base_model_dir()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, base):
    "A 2-layer model with SmolLM2's real tokenizer and architecture, randomly initialised: fast enough to kill mid-run."
    config = AutoModelForCausalLM.from_pretrained(base).config
    config.update({"num_hidden_layers": 2, "hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "head_dim": 32})
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("small")/"model"
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def test_packed_loss_equals_the_examples_separate_losses(corpus, base):
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    model.config.use_cache = False                              # as sft_train sets it
    examples, _ = tokenize_records(corpus[:40], tok, 384, desc=None)
    examples = examples[:12]
    rows = pack_examples(examples, 768, seed=0)
    assert len(rows) < len(examples) and all(len(r["ids"]) >= 1 for r in rows)
    separate = example_losses(model, examples)
    expected = sum(loss * n for loss, n in separate) / sum(n for _, n in separate)
    batch = collate_packed(rows, tok.pad_token_id)
    with torch.no_grad():
        packed = float(model(**batch).loss)                     # the Trainer's call: no attention mask, no explicit use_cache
        leaky = float(model(**batch, attention_mask=torch.ones_like(batch["input_ids"])).loss)
    assert packed == pytest.approx(expected, abs=2e-4), (packed, expected)
    assert abs(leaky - expected) > 1e-2                         # without the boundaries the check fails: it can tell
    # every target token of every example is a target exactly once in the packed batch
    assert int((batch["labels"] != IGNORE).sum()) == sum(n for _, n in separate)


def _train_cmd(data: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return [str(BIN/"datascope"), "train", str(data), "--model", str(model), "--out", str(out), "--limit", "64",
            "--max-steps", "30", "--save-steps", "5", "--eval-steps", "15", "--lr", "1e-3", "--eval", "none", *extra]


def _quiet_env() -> dict:
    return {**os.environ, "DATASCOPE_QUIET": "1", "TOKENIZERS_PARALLELISM": "false"}


def test_killed_train_resumes_to_the_uninterrupted_run(corpus_file, small_model, tmp_path):
    whole, killed = tmp_path/"whole", tmp_path/"killed"
    subprocess.run(_train_cmd(corpus_file, small_model, whole), check=True, env=_quiet_env(), capture_output=True)
    proc = subprocess.Popen(_train_cmd(corpus_file, small_model, killed), env=_quiet_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed/"checkpoint-10"/"trainer_state.json").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before its second checkpoint"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert not (killed/"final").exists() and not (killed/"checkpoint-30").exists()     # really cut off mid-run
    done = subprocess.run(_train_cmd(corpus_file, small_model, killed), check=True, env=_quiet_env(), capture_output=True, text=True)
    a, b = (json.loads((d/"train_report.json").read_text()) for d in (whole, killed))
    assert b["resumed_from"] is not None and int(b["resumed_from"].split("-")[1]) >= 10
    assert a["steps"] == b["steps"] == 30
    # Same data order and RNG: every step's loss matches, before and after the kill.
    assert [s for s, _ in a["loss_curve"]] == [s for s, _ in b["loss_curve"]] == list(range(1, 31))
    for (_, la), (_, lb) in zip(a["loss_curve"], b["loss_curve"]):
        assert la == pytest.approx(lb, rel=1e-4, abs=1e-4)
    assert a["eval_loss_after"] == pytest.approx(b["eval_loss_after"], rel=1e-4)
    assert b["eval_loss_after"] < b["eval_loss_before"]          # the loss falls
    wa, wb = (AutoModelForCausalLM.from_pretrained(d/"final").state_dict() for d in (whole, killed))
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)
    assert read_manifest(killed)["counts"]["kept"] == a["train_examples"] + a["eval_examples"]
    summary = json.loads(done.stdout[done.stdout.rindex('{\n  "run"'):])        # the Trainer's own log lines come first
    assert summary["final"] == str(killed/"final") and summary["resumed_from"] == b["resumed_from"]
    assert not list(killed.glob("checkpoint-*"))                 # a finished run keeps final/ and drops its checkpoints
    again = subprocess.run(_train_cmd(corpus_file, small_model, whole), check=True, env=_quiet_env(), capture_output=True, text=True)
    assert json.loads((whole/"train_report.json").read_text()) == a and "'loss'" not in again.stdout   # done: not retrained


def test_trained_checkpoint_reloads_and_is_evaluated(corpus_file, small_model, tmp_path):
    out = tmp_path/"run"
    subprocess.run(_train_cmd(corpus_file, small_model, out, "--max-steps", "4", "--save-steps", "4", "--eval-steps", "4"), check=True,
                   env=_quiet_env(), capture_output=True)
    scores = evaluate_checkpoint(out/"final", tmp_path/"eval", ("humaneval",), limit=2, max_tokens=16)
    results = [json.loads(l) for l in (tmp_path/"eval"/"humaneval"/"results.jsonl").read_text().splitlines()]
    samples = [json.loads(l) for l in (tmp_path/"eval"/"humaneval"/"samples.jsonl").read_text().splitlines()]
    assert scores["humaneval"]["problems"] == 2 and [r["task_id"] for r in results] == ["HumanEval/0", "HumanEval/1"]
    assert scores["humaneval"]["pass@1"] == sum(r["passed"] for r in results) / 2
    assert [s["model_id"] for s in samples] == [checkpoint_identity(out/"final")["model_id"]] * 2   # the trained weights answered


def test_bad_training_rows_are_recorded_skips_and_a_bad_directory_an_error(tmp_path, small_model):
    data = tmp_path/"data.jsonl"
    good = [{"id": f"g{i}", "instruction": f"Return {i}.", "output": f"def f():\n    return {i}", "language": "python", "source": "t"}
            for i in range(3)]
    data.write_text("".join(json.dumps(g) + "\n" for g in good) + '{"id": "broken"\n' + json.dumps({**good[0], "id": "e", "output": ""}) + "\n")
    subprocess.run([str(BIN/"datascope"), "train", str(data), "--model", str(small_model), "--out", str(tmp_path/"o"),
                    "--eval", "none", "--max-steps", "1"], check=True, capture_output=True, env=_quiet_env())
    skips = {(s["line"], s["kind"]) for s in read_manifest(tmp_path/"o")["skips"]}
    assert skips == {(4, "bad_json"), (5, "empty_field")}, skips
    r = subprocess.run([str(BIN/"datascope"), "train", str(tmp_path/"o"), "--out", str(tmp_path/"p")],
                       capture_output=True, text=True, env=_quiet_env())
    assert r.returncode == 2 and "has no JSONL records file; it holds: eval_before.json, final/" in r.stderr, r.stderr


@pytest.mark.slow
def test_cpu_smoke_preset_end_to_end(tmp_path):
    "The Done-means run: the real SmolLM2 on the corpus, cpu-smoke preset, then HumanEval and Bench on the checkpoint."
    r = subprocess.run([str(BIN/"datascope"), "train", "--preset", "cpu-smoke", "--out", str(tmp_path/"smoke")],
                       capture_output=True, text=True, env=_quiet_env(), check=True)
    summary = json.loads(r.stdout)
    assert summary["eval_loss_after"] < summary["eval_loss_before"]
    assert set(summary["eval"]) == {"humaneval", "mbpp", "bench"} and summary["eval"]["humaneval"]["problems"] == 2


def test_a_run_with_no_held_out_example_trains_without_evaluating(tmp_path, small_model):
    "One program: nothing can be held out (split_eval keeps one to train on), so the Trainer must not be asked to evaluate."
    from datascope_nb.train import sft_train
    rec = {"id": "only", "instruction": "Return 1.", "output": "def f():\n    return 1", "language": "python", "source": "t"}
    report = sft_train([rec], tmp_path/"one", model=small_model, preset="gpu", max_len=64, global_batch=1, batch_size=1, max_steps=1,
                       eval_steps=1, save_steps=1)                 # the gpu preset here: bf16 autocast on the CPU, checkpointing on
    assert report["steps"] == 1 and report["eval_examples"] == 0 and report["eval_loss_before"] is None
    assert report["config"]["bf16"] and report["device_name"].startswith(("cpu (", "NVIDIA"))
