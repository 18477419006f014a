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
