"""The fault matrix of tools/bench/faults.py as tests: on each shipped closed loop, with its
actuator sending UDP to a listener in another process, every fault (kill -9 of each worker,
SIGINT, SIGTERM, --duration, kill -9 of the supervisor) gets the safe command to the
listener in time, the run ends by itself with no process left behind, and every edge's
figures add up."""
from __future__ import annotations

import pytest

from tools.bench.faults import LOOPS, faults_of, run_fault
from tools.datasets import data_dir

pytestmark = pytest.mark.integration

CASES = [pytest.param(name, fault, id=f"{name}-{fault}", marks=[pytest.mark.data] if loop.needs_data else [])
         for name, loop in LOOPS.items() for fault in faults_of(loop)]


@pytest.mark.parametrize("graph,fault", CASES)
def test_fault_reaches_the_safe_state(graph, fault, tmp_path):
    loop = LOOPS[graph]
    if loop.needs_data and not data_dir().is_dir():
        pytest.skip(f"shared recordings not found at {data_dir()}")
    r = run_fault(loop, fault, tmp_path)
    assert not r.error, r.error
    if r.limit_ms is None:  # off the control path: the loop goes on undisturbed
        assert r.exit_code == 1  # a failure happened, and was reported
    else:
        assert r.safe_ms is not None, f"no safe command at the listener after {fault}"
        assert r.safe_ms <= r.limit_ms, f"safe command {r.safe_ms:.0f} ms after {fault} (limit {r.limit_ms:.0f})"
    assert r.ended, "the run did not end by itself"
    assert not r.orphans, f"processes left behind: {r.orphans}"
    assert r.edges and not r.unbalanced, r.unbalanced
    if fault in ("sigint", "sigterm", "duration"):
        assert r.exit_code == 0
    elif fault.startswith("kill:"):
        assert r.exit_code == 1
