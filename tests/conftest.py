import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def pytest_configure(config):
    # Notebooks run by papermill draw figures without a display.
    os.environ.setdefault("MPLBACKEND", "Agg")
