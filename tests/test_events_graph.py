"""The synthetic camera, denoise and binning, and a chain of the other event filters, in
a real `streamer run` (one process per node, ZeroMQ between them) give what the same
nodes give in-process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivers.dvs.synthetic import SyntheticCamera
from nodes.events.bin import Bin
from nodes.events.denoise import Denoise
from nodes.events.downsample import Downsample
from nodes.events.flip import Flip
from nodes.events.hotpixels import HotPixels
from nodes.events.ratelimit import RateLimit
from nodes.events.refractory import Refractory
from streamer import recording
from streamer.testing import run

pytestmark = pytest.mark.integration

GRAPH = Path(__file__).parent / "graphs" / "events_synthetic_pipeline.yaml"


def test_pipeline_through_the_runtime_equals_in_process(tmp_path):
    out = tmp_path / "run.rec"
    proc = subprocess.run([sys.executable, "-m", "streamer", "run", str(GRAPH), "--no-live",
                           "--duration", "60"], env={**os.environ, "OUT": str(out)},
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = recording.read(out)

    camera = SyntheticCamera(n_trials=3, speed=0, seed=3, noise_hz=2.0, hot_pixels=2, hot_pixel_hz=2000)
    cam = run(camera)
    den = run(Denoise(window_us=2000), cam["out"])["out"]
    frames = run(Bin(bin_us=10000, shape=(2, 16, 16), frames_per_message=5), den)["out"]

    assert np.array_equal(got["events"].data, recording.concat([m.data for m in den]))
    assert got["events"].meta["width"] == 32
    assert np.array_equal(got["frames"].data, np.concatenate([m.data for m in frames]))
    assert [m["label"] for m in got["markers"].data] == [m.data["label"] for m in cam["markers"]]
    assert np.all(np.diff(got["events"].seq) == 1)  # nothing lost on the way

    # the filter chain: each node fed the previous one's messages, as the runtime does
    msgs = cam["out"]
    hot = HotPixels(learn_ms=300, factor=10)
    for node in (hot, Refractory(refractory_us=3000),
                 Flip(flip_x=True, rotate=90), Downsample(factor=2, accumulate=2),
                 RateLimit(max_events_per_s=20000)):
        msgs = run(node, msgs)["out"]
    # the camera's own hot pixels are the ones learned
    assert sorted(hot.hot) == sorted(zip(camera.scene.hot_x.tolist(), camera.scene.hot_y.tolist()))
    chain = recording.concat([m.data for m in msgs])
    assert 1000 < len(chain) and np.array_equal(got["chain"].data, chain)
    assert (got["chain"].meta["width"], got["chain"].meta["height"]) == (16, 16)
