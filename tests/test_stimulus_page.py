"""The console's stimulus page in a real headless Chromium: SSVEP targets flicker at the
requested frequencies, measured from the frame times the page records (requestAnimationFrame,
mapped to the graph's clock), and each stimulus is reported shown at a frame after its cue."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from streamer.recording import read
from tests.test_console_browser import CHROMIUM, DRIVER, Run, browser  # noqa: F401 - the fixture

webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = [pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
                                 reason="needs Debian's chromium and chromium-driver (apt-get install)"),
              pytest.mark.timeout(300), pytest.mark.integration]

FREQS = [7.5, 12.0, 15.0]

GRAPH = f"""
name: ssvep-page
nodes:
  cues: {{type: cues.ssvep, freqs_hz: {FREQS}, trials_per_target: 1, stim_s: 4, rest_s: 1, jitter_s: 0,
          start_s: 10, seed: 0}}
  rec: {{type: record, path: "{{rec}}"}}
edges:
  - cues -> rec.cues
"""


def measured_frequency(t: np.ndarray, lum: np.ndarray, f0: float) -> float:
    """The frequency of the luminance sequence sampled at the frame times: the peak of
    its Fourier amplitude at those times, searched around f0 (+-5%) in 0.0005 Hz steps."""
    grid = np.arange(0.95 * f0, 1.05 * f0, 0.0005)
    x = lum - lum.mean()
    amp = np.abs(np.exp(-2j * np.pi * grid[:, None] * (t - t[0])[None]) @ x)
    return float(grid[np.argmax(amp)])


def test_ssvep_page_flickers_at_the_requested_frequencies(browser, tmp_path):  # noqa: F811 - fixture
    rec_path = tmp_path / "ssvep.rec"
    graph = tmp_path / "ssvep.yaml"
    graph.write_text(GRAPH.replace("{rec}", str(rec_path)))
    run = Run(graph, tmp_path, duration=90)
    try:
        browser.get(run.url + "stimulus")
        run.wait_for(lambda: "synchronised" in browser.find_element("id", "status").text, timeout=20)
        deadline = time.monotonic() + 80
        while run.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert run.proc.poll() == 0, run.log.read_text()[-3000:]
    finally:
        run.stop()
    rec = read(rec_path)
    cues = [c for c in rec["cues"].data if c["label"] == "ssvep"]
    assert sorted(c["value"] for c in cues) == [0, 1, 2]
    page = rec["console_markers"].data
    frames = [m for m in page if m["label"] == "frame_times"]
    shown = [m for m in page if m["label"] == "shown:ssvep"]
    assert len(shown) == 3
    for cue in cues:
        trial = [m for m in frames if m["target"] == cue["value"]]
        t = np.concatenate([m["frame_times"] for m in trial])
        lum = np.array([np.concatenate([m["luminance"][k] for m in trial]) for k in range(len(FREQS))])
        # On the graph's clock: the first frame follows the cue by less than a second, and
        # the frames span the trial's 4 s at a display rate (30-240 frames/s).
        assert 0 <= t[0] - cue["time_s"] < 1.0
        assert 3.8 < t[-1] - t[0] < 4.1
        dt = np.diff(t)
        assert np.all(dt > 0) and 1 / 240 < np.median(dt) < 1 / 30
        for k, f in enumerate(FREQS):
            got = measured_frequency(t, lum[k], f)
            print(f"trial of target {cue['value']}: {f} Hz measured {got:.4f} Hz over {len(t)} frames "
                  f"(median frame {np.median(dt) * 1e3:.2f} ms, p99 {np.percentile(dt, 99) * 1e3:.2f} ms)")
            assert abs(got / f - 1) < 0.01, (f, got)
        # The shown marker is the trial's first frame.
        s = next(m for m in shown if m["time_s"] >= cue["time_s"] - 1e-6 and m["time_s"] - cue["time_s"] < 1.0)
        assert s["time_s"] == pytest.approx(t[0], abs=0.05)
