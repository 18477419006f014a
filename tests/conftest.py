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
