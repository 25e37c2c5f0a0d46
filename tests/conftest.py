"""Shared fixtures; the lanes' hooks come from tests/lanes.py."""
from __future__ import annotations

import pytest

from tests.lanes import (pytest_collection_modifyitems, pytest_configure,  # noqa: F401 - hooks
                         pytest_runtest_makereport, pytest_runtest_setup)
from tools.datasets import data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The shared real recordings; tests that need them skip when they are absent."""
    root = data_dir()
    if not root.is_dir():
        pytest.skip(f"shared recordings not found at {root} (set STREAMER_DATA)")
    return root


def need(path):
    """Skip unless this shared file exists."""
    if not path.exists():
        pytest.skip(f"shared recording {path} not found (set STREAMER_DATA)")
    return path


@pytest.fixture(autouse=True)
def _no_graph_left_running():
    yield
    from tests.runtime_helpers import stop_all
    stop_all()
