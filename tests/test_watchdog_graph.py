"""A stalled source in the demo graph: the camera stays up but stops sending, decisions
stop, and the gate sends its safe command within timeout_ms of the last decision."""
from __future__ import annotations

import json

import pytest
import yaml

from streamer import recording
from tests.runtime_helpers import run, write_graph
from tests.shipped_graph import shipped_graph

pytestmark = pytest.mark.integration

TIMEOUT_MS = 1000  # above the longest gap between two decisions (about 700 ms)
MARGIN_MS = 200    # a late tick on a busy machine, delivery of the last decision


def test_stalled_camera_trips_the_watchdog_within_timeout(tmp_path):
    graph = shipped_graph("demo.yaml")
    nodes = graph["nodes"]
    # 150 chunks of 10 ms in real time (about 4 shapes), then silence without an end
    nodes["camera"].update(type="tests.runtime_nodes:StallingCamera", stall_after=150, n_trials=0, seed=3)
    nodes["gate"].update(timeout_ms=TIMEOUT_MS)
    nodes["out"]["path"] = str(tmp_path / "commands.jsonl")
    nodes["rec"] = {"type": "record", "path": str(tmp_path / "decisions.rec")}
    graph["edges"] += ["snn.decision -> gate.heartbeat", "snn.decision -> rec.decisions"]
    g = write_graph(tmp_path, yaml.safe_dump(graph))
    code, figures, err = run(g, "--duration", "4", timeout=60)
    assert code == 0, err[-3000:]
    decisions = recording.read(tmp_path / "decisions.rec")["decisions"]
    assert len(decisions.data) >= 2
    rows = [json.loads(line) for line in (tmp_path / "commands.jsonl").read_text().splitlines()]
    # (before the first decision the gate may have tripped already: nothing had come yet)
    first = float(decisions.t_origin.min())
    trips = [r for r in rows if r["safety"].startswith("watchdog") and r["t_origin"] > first]
    # the timeout, then the stop at the end of the run (--duration): nothing passed between
    assert [(r["action"], r["safety"]) for r in trips] == [("stop", "watchdog:timeout"),
                                                           ("stop", "watchdog:stop")], rows
    assert rows[-2:] == trips and any(r["safety"] == "passed" for r in rows)
    # from the last decision to the safe command: the timeout, less at most one watchdog tick
    waited_ms = 1e3 * (trips[0]["t_origin"] - float(decisions.t_origin.max()))
    print(f"safe command {waited_ms:.0f} ms after the last decision (timeout {TIMEOUT_MS} ms)")
    assert TIMEOUT_MS * 7 / 8 - 10 <= waited_ms <= TIMEOUT_MS + MARGIN_MS, waited_ms
    gate = figures["nodes"]["gate"]
    timeouts = [r for r in rows if r["safety"] == "watchdog:timeout"]
    assert gate["counters"]["watchdog_timeout"] == len(timeouts) and "watchdog_end" not in gate["counters"]
    assert "gate: sending safe command 'stop' (timeout)" in err
    # the camera was stalled, not ended: it was still up when the run stopped
    assert figures["nodes"]["camera"]["state"] == "stopped" and figures["reason"] == "duration"
