"""The gate and an actuator in a real `streamer run`: when the upstream ends, the safe
command reaches the actuator."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

GRAPH = Path(__file__).parent / "graphs" / "actions_gate_watchdog.yaml"


def test_upstream_end_sends_safe_command_through_runtime(tmp_path):
    out = tmp_path / "commands.jsonl"
    env = {**os.environ, "OUT": str(out)}
    proc = subprocess.run([sys.executable, "-m", "streamer", "run", str(GRAPH), "--no-live",
                           "--duration", "20"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows, "the actuator received nothing"
    assert all(r["action"] == "stop" for r in rows)
    assert rows[-1]["safety"] == "watchdog:end"
    assert all(0 <= r["t_sent"] - r["t_origin"] < 1.0 for r in rows)
