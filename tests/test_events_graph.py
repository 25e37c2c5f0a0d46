"""The synthetic camera, denoise and binning in a real `streamer run` (one process per
node, ZeroMQ between them) give what the same nodes give in-process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from drivers.dvs.synthetic import SyntheticCamera
from nodes.events.bin import Bin
from nodes.events.denoise import Denoise
from streamer import recording
from streamer.testing import run

GRAPH = Path(__file__).parent / "graphs" / "events_synthetic_pipeline.yaml"


def test_pipeline_through_the_runtime_equals_in_process(tmp_path):
    out = tmp_path / "run.rec"
    proc = subprocess.run([sys.executable, "-m", "streamer", "run", str(GRAPH), "--no-live",
                           "--duration", "60"], env={**os.environ, "OUT": str(out)},
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = recording.read(out)

    cam = run(SyntheticCamera(n_trials=3, speed=0, seed=3, noise_hz=2.0, hot_pixels=2))
    den = run(Denoise(window_us=2000), cam["out"])["out"]
    frames = run(Bin(bin_us=10000, shape=(2, 16, 16), frames_per_message=5), den)["out"]

    assert np.array_equal(got["events"].data, recording.concat([m.data for m in den]))
    assert got["events"].meta["width"] == 32
    assert np.array_equal(got["frames"].data, np.concatenate([m.data for m in frames]))
    assert [m["label"] for m in got["markers"].data] == [m.data["label"] for m in cam["markers"]]
    assert np.all(np.diff(got["events"].seq) == 1)  # nothing lost on the way
