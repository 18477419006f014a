"""The Ray engine on a real cluster (a head and two worker nodes on this machine): the same bytes as the local engine for
LintSeq and the corpus, a cross-shard near-duplicate caught, a worker node killed mid-run, a driver killed and rerun."""
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray.cloudpickle

from datascope_nb.corpus import corpus_files, corpus_run, dedup, dedup_sorted, python_source
from datascope_nb.evaluate import humaneval_problems
from datascope_nb.lintseq import lintseq_run
from datascope_nb.pipeline import batch_stage, map_stage, run_pipeline, use_engine
from datascope_nb.scale import same_run_bytes

# The stages below are defined in this module, which Ray's workers cannot import: ship them by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def humaneval_programs() -> list[dict]:
    "HumanEval's 164 canonical solutions as SFT records: real programs nobody here wrote."
    return [{"id": p["task_id"], "instruction": p["prompt"], "output": p["prompt"] + p["canonical_solution"],
             "language": "python", "source": "humaneval"} for p in humaneval_problems()]


def test_lintseq_on_ray_is_the_local_run_byte_for_byte(ray_cluster, tmp_path):
    recs = humaneval_programs()
    local = lintseq_run(recs, s=2, seed=3, out=tmp_path/"local", workers=2)
    with use_engine("ray"): on_ray = lintseq_run(recs, s=2, seed=3, out=tmp_path/"ray", workers=3)
    assert same_run_bytes(local.dir, on_ray.dir)
    assert on_ray.report["accepted"] == local.report["accepted"] > 150


def test_corpus_with_its_dedup_on_ray_is_the_local_run_byte_for_byte(ray_cluster, tmp_path):
    files = corpus_files([python_source("json"), python_source("email"), python_source("fastcore")])
    local = corpus_run(files, tmp_path/"local", workers=2, shard_size=8)
    with use_engine("ray"): on_ray = corpus_run(files, tmp_path/"ray", workers=3, shard_size=8)
    assert same_run_bytes(local.dir, on_ray.dir)
    dedup_stage = next(s for s in on_ray.report["stages"] if s["stage"] == "dedup")
    assert local.report["accepted"] > 100 and dedup_stage["rejected"] > 0, "the sample holds duplicates: the dedup is exercised"


def near_copy(code: str) -> str:
    return code.replace("return", "return  ") + "\n# a trailing comment\n"


def test_a_near_duplicate_pair_in_different_shards_is_caught(ray_cluster, tmp_path):
    progs = [p["prompt"] + p["canonical_solution"] for p in humaneval_problems()[:40]]
    recs = [{"id": f"f{i:03d}", "code": c} for i, c in enumerate(progs)]
    recs.append({"id": "f999", "code": near_copy(progs[2])})       # shard 0 holds f002, the last shard f999
    stages = [map_stage(dict, "read"), batch_stage(dedup_sorted, "dedup", whole=True)]
    run = run_pipeline(recs, stages, tmp_path/"ray", engine="ray", shard_size=4)
    assert [(r.id, r.reason, r.detail) for r in run.rejected()] == [("f999", "duplicate_near", "token Jaccard >= 0.8 with f002")]
    assert dedup(sorted(recs, key=lambda r: r["id"]))[1][0].detail == "token Jaccard >= 0.8 with f002"
    local = run_pipeline(recs, stages, tmp_path/"local", engine="local", shard_size=4)
    assert same_run_bytes(local.dir, run.dir)


def slow_double(rec: dict) -> dict:
    time.sleep(0.05)
    return {**rec, "y": 2 * rec["x"]}


def test_a_worker_node_killed_mid_run_loses_and_duplicates_nothing(ray_cluster, tmp_path):
    recs = [{"id": f"r{i:03d}", "x": i} for i in range(240)]
    out, result = tmp_path/"run", {}
    def drive(): result["run"] = run_pipeline(recs, [map_stage(slow_double)], out, engine="ray", shard_size=4, workers=3)
    driver = threading.Thread(target=drive); driver.start()
    deadline = time.time() + 120
    while len(list((out/"shards").glob("*.done.json"))) < 6 and time.time() < deadline: time.sleep(0.05)
    victim = ray_cluster.list_all_nodes()[-1]
    ray_cluster.remove_node(victim)                 # a worker node dies with shards in flight
    try:
        driver.join(300)
        assert not driver.is_alive(), "the run did not finish after a node died"
        got = result["run"].records()
        assert [r["id"] for r in got] == [r["id"] for r in recs]          # every record exactly once, in order
        assert all(r["y"] == 2 * r["x"] for r in got)
    finally:
        ray_cluster.add_node(num_cpus=1); ray_cluster.wait_for_nodes()    # the session's cluster stays whole


DRIVER = '''
import sys, time
from pathlib import Path
from datascope_nb.pipeline import map_stage, run_pipeline
from datascope_nb.scale import ray_connect
out, calls, address, tag = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
def counted(rec):
    (calls/f"{tag}-{rec['id']}").touch()
    time.sleep(0.05)
    return {**rec, "y": 2 * rec["x"]}
ray_connect(address)
recs = [{"id": f"r{i:03d}", "x": i} for i in range(160)]
run_pipeline(recs, [map_stage(counted)], out, engine="ray", shard_size=4, workers=2, keep_shards=True)
'''


def test_a_killed_driver_reruns_only_the_unfinished_shards(ray_cluster, tmp_path):
    script, out, calls = tmp_path/"driver.py", tmp_path/"run", tmp_path/"calls"
    script.write_text(DRIVER); calls.mkdir()
    first = subprocess.Popen([sys.executable, script, out, calls, ray_cluster.address, "first"])
    deadline = time.time() + 180
    while len(list((out/"shards").glob("*.done.json"))) < 8 and time.time() < deadline and first.poll() is None: time.sleep(0.05)
    first.send_signal(signal.SIGKILL); first.wait()
    done = {int(p.name[3:9]) for p in (out/"shards").glob("00-*.done.json")}
    assert 8 <= len(done) < 40, len(done)
    subprocess.run([sys.executable, script, out, calls, ray_cluster.address, "second"], check=True, timeout=300)
    again = {p.name.split("-", 1)[1] for p in calls.glob("second-*")}
    assert again == {f"r{i:03d}" for i in range(160) if i // 4 not in done}
    ids = [json.loads(line)["id"] for line in (out/"records.jsonl").read_text().splitlines()]
    assert ids == [f"r{i:03d}" for i in range(160)]


def test_the_engine_flag_joins_the_cluster_and_writes_the_local_bytes(ray_cluster, tmp_path):
    from datascope_nb.core import write_jsonl
    data = write_jsonl(humaneval_programs()[:40], tmp_path/"he.jsonl")
    def cli(*args):
        res = subprocess.run([Path(sys.executable).parent/"datascope", "apis", str(data), *args], capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)
    local = cli("--out", str(tmp_path/"local"), "--engine", "local")
    on_ray = cli("--out", str(tmp_path/"ray"), "--engine", "ray", "--ray-address", ray_cluster.address)
    assert same_run_bytes(Path(local["run"]), Path(on_ray["run"]))


def breaks_on_r017(rec: dict) -> dict:
    if rec["id"] == "r017": raise RuntimeError("the linter crashed")
    return rec


def test_a_failing_stage_on_ray_names_the_record_as_the_local_engine_does(ray_cluster, tmp_path):
    from datascope_nb.pipeline import StageError
    recs = [{"id": f"r{i:03d}", "x": i} for i in range(40)]
    with pytest.raises(StageError, match="failed on record 'r017': RuntimeError: the linter crashed"):
        run_pipeline(recs, [map_stage(breaks_on_r017)], tmp_path/"run", engine="ray", shard_size=8)
    done = {p.name for p in (tmp_path/"run"/"shards").glob("*.done.json")}
    assert "00-000002.done.json" not in done          # r017's shard is not marked finished


def test_dgen_dedup_spread_on_ray_decides_as_the_local_one(ray_cluster):
    from datascope_nb.dgen import dedup, dedup_spread
    probs = humaneval_problems()[:30]
    items = [{"id": f"c{i:03d}", "item": f"it{i // 3}", "problem": p["prompt"], "solution": p["canonical_solution"]}
             for i, p in enumerate(probs)]
    items += [{"id": "c900", "item": "it900", "problem": probs[3]["prompt"] + " ", "solution": "pass"},        # same problem
              {"id": "c901", "item": "it901", "problem": "Unrelated.", "solution": probs[6]["canonical_solution"]},  # same solution
              {"id": "c902", "item": "it902", "problem": probs[9]["prompt"] + "\n    Be careful.",                    # nearly the same
               "solution": probs[9]["canonical_solution"] + "\n# checked\n"}]
    group = lambda it: it["item"]
    local = dedup(items, group=group)
    assert dedup_spread(items, group=group, engine="ray") == local
    assert local[-3:] == ["exact_problem:c003", "exact_solution:c006", "near:c009"] and local.count(None) == 10
