"Shared fixtures: the project root, and a small valid SFT record to corrupt."
from pathlib import Path

import pytest

from datascope_nb.core import project_root

ROOT = project_root(Path(__file__).parent)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def sft_row() -> dict:
    return {"id": "ex-1", "instruction": "Return the sum of a and b.", "output": "def add(a, b):\n    return a + b\n",
            "language": "python", "source": "test"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: minutes-long; run with DATASCOPE_SLOW=1")


def pytest_collection_modifyitems(config, items):
    import os
    if os.environ.get("DATASCOPE_SLOW", "") not in ("", "0"): return
    skip = pytest.mark.skip(reason="slow: set DATASCOPE_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)


@pytest.fixture
def scripted_server():
    """A factory of started `ScriptedServer`s (tests/scripted_server.py), all stopped after the test:
    `srv = scripted_server(answer="...", models=[...], port=...)`."""
    from scripted_server import ScriptedServer
    started = []

    def start(*args, **kwargs) -> ScriptedServer:
        srv = ScriptedServer(*args, **kwargs).start()
        started.append(srv)
        return srv

    yield start
    for srv in started: srv.stop()


@pytest.fixture(scope="session")
def ray_cluster():
    """One Ray cluster for the whole test session (starting one takes seconds): a head and two worker nodes on this
    machine, one CPU each, through `ray.cluster_utils.Cluster`; this process is its driver."""
    import ray
    from ray.cluster_utils import Cluster

    from datascope_nb.scale import ray_connect, retrying
    cluster = retrying(lambda: Cluster(initialize_head=True, head_node_args={"num_cpus": 1}))
    for _ in range(2): retrying(lambda: cluster.add_node(num_cpus=1))
    ray_connect(cluster.address)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()
