"""dvs.file in a real `streamer run` (its own process, ZeroMQ to the recorder): every
event of a RAW file with external triggers arrives, in order, and the triggers arrive as
markers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivers.dvs.readers import TRIGGER_DTYPE
from drivers.dvs.writers import write_raw
from streamer import recording
from streamer.streams import EVENT_DTYPE

pytestmark = pytest.mark.integration

GRAPH = Path(__file__).parent / "graphs" / "dvs_file_record.yaml"


def test_file_source_through_the_runtime(tmp_path):
    rng = np.random.default_rng(5)
    ev = np.empty(50_000, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 400_000, len(ev)))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 320, len(ev)), rng.integers(0, 240, len(ev)), rng.integers(0, 2, len(ev))
    tr = np.array([(1_000, 1, 1), (200_000, 1, 0), (399_000, 2, 1)], TRIGGER_DTYPE)
    raw = tmp_path / "in.raw"
    write_raw(raw, ev, 320, 240, "EVT3", tr)
    out = tmp_path / "run.rec"
    proc = subprocess.run([sys.executable, "-m", "streamer", "run", str(GRAPH), "--no-live", "--duration", "60"],
                          env={**os.environ, "RAW": str(raw), "OUT": str(out)},
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = recording.read(out)
    assert np.array_equal(got["events"].data, ev)
    assert (got["events"].meta["width"], got["events"].meta["height"]) == (320, 240)
    assert np.all(np.diff(got["events"].seq) == 1)
    marks = [(m["label"], m["value"], round(m["time_s"] * 1e6)) for m in got["markers"].data]
    assert marks == [("trigger1", 1, 1_000), ("trigger1", 0, 200_000), ("trigger2", 1, 399_000)]
