"""graphs/dvs_live.yaml: valid as shipped; without a camera it stops at once with the
reason; with its source swapped by --set (a recording, the synthetic camera) the same
file runs end to end and commands reach the actuator."""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from drivers.dvs.synthetic import generate_trials
from tests.conftest import need
from tests.runtime_helpers import ROOT, run

pytestmark = pytest.mark.integration

GRAPH = ROOT / "graphs" / "dvs_live.yaml"
SHAPES = ["circle", "square", "triangle", "cross"]
ACTIONS = {"circle": "left", "square": "right", "triangle": "forward", "cross": "stop"}


def _tagged(tag: str) -> list[int]:
    """Processes whose environment carries this tag (children inherit it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if f"STREAMER_TEST_TAG={tag}".encode() in f.read().split(b"\0"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _commands(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_check_passes():
    proc = subprocess.run([sys.executable, "-m", "streamer", "check", str(GRAPH)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "is valid: 7 nodes, 7 edges" in proc.stderr


def test_no_camera_stops_at_once_naming_what_was_found():
    dv = pytest.importorskip("dv_processing")
    if dv.io.camera.discover():
        pytest.skip("an iniVation camera is connected")
    import importlib.util
    if importlib.util.find_spec("metavision_core") is not None:
        pytest.skip("the Metavision SDK is installed: a Prophesee camera would be tried")
    tag = uuid.uuid4().hex
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "streamer", "run", str(GRAPH), "--no-live"], cwd=ROOT,
                          env={**os.environ, "STREAMER_TEST_TAG": tag}, capture_output=True, text=True,
                          timeout=60)
    took = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "dvs.camera: no event camera found; cameras found: none" in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr  # the advice only
    assert "not starting the graph: camera failed to start" in proc.stderr
    assert took < 30, f"{took:.1f} s to give up"
    deadline = time.monotonic() + 3
    while _tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _tagged(tag) == [], "processes of the run are still alive"


def test_recording_instead_of_the_camera(shared_data, tmp_path):
    rec = need(shared_data / "events" / "dvxplorer.aedat4")
    out = tmp_path / "commands.jsonl"
    code, figures, err = run(GRAPH, "--set", "camera.type=dvs.file", "--set", f"camera.path={rec}",
                             "--set", f"out.path={out}", timeout=60, tmp=tmp_path)
    assert code == 0, err[-3000:]
    nodes = figures["nodes"]
    assert nodes["camera"]["type"] == "dvs.file" and nodes["camera"]["out_items"] == 111_954
    # the recording starts busy: its first bin starts a trial (trigger: activity)
    assert nodes["snn"]["counters"]["decisions"] >= 1
    rows = _commands(out)
    passed = [r for r in rows if r["safety"] == "passed"]
    assert passed and all(ACTIONS[r["label"]] == r["action"] for r in passed)
    assert rows[-1]["safety"] == "watchdog:end" and rows[-1]["action"] == "stop"
    assert all(e["lost"] == 0 for e in figures["edges"].values())


def test_synthetic_camera_instead_of_the_camera(tmp_path):
    out = tmp_path / "commands.jsonl"
    trials = 12
    code, figures, err = run(GRAPH, "--set", "camera.type=dvs.synthetic", "--set", f"camera.classes={SHAPES}",
                             "--set", f"camera.n_trials={trials}", "--set", "camera.seed=5",
                             "--set", "camera.speed=2", "--set", f"out.path={out}", timeout=60, tmp=tmp_path)
    assert code == 0, err[-3000:]
    rows = _commands(out)
    passed = [r for r in rows if r["safety"] == "passed"]
    # trials start on the camera's markers and on activity: at least one command per trial
    # shown, less what low confidence or the rate limit hold back
    assert len(passed) >= 0.75 * trials, rows
    assert all(ACTIONS[r["label"]] == r["action"] for r in passed)
    # and mostly the shapes shown (the scene of the same seed, generated offline)
    shown = collections.Counter(SHAPES[t.label] for t in generate_trials(trials, seed=5, classes=SHAPES))
    named = collections.Counter(r["label"] for r in passed)
    assert sum((shown & named).values()) >= 0.75 * trials, (shown, named)
    assert rows[-1]["safety"] == "watchdog:end"
    # every line: a command received, or the actuator's own safe command at the start
    out_counters = figures["nodes"]["out"]["counters"]
    assert out_counters["sent"] + out_counters["safe_sent"] == len(rows)
    assert rows[0]["safety"] in ("actuator:start", "watchdog:start")
