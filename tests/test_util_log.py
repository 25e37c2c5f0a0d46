"""util.log shows values, not only shapes: numpy's summary of each array on one line."""
from __future__ import annotations

import logging

import numpy as np

from streamer import streams
from streamer.testing import feed
from streamer.util_nodes import Log


def logged(caplog, port: str, msg: streams.Message) -> str:
    node = Log(max_rate_hz=1e6)
    node.start()
    with caplog.at_level(logging.INFO, logger="streamer.log"):
        feed(node, [(port, msg)])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "streamer.log"]
    return line


def test_samples_show_their_first_and_last_values(caplog):
    data = np.arange(64 * 100, dtype=np.float32).reshape(64, 100) * 1e-6
    msg = streams.samples(data, sfreq=1000.0, ch_names=[f"c{i}" for i in range(64)], ch_types=["eeg"] * 64,
                          units=["V"] * 64, t_first_s=0.0, first_sample=0)
    line = logged(caplog, "eeg", msg)
    assert "shape 64x100" in line and "\n" not in line and len(line) < 320
    assert "[[0.000e+00 1.000e-06 ..." in line and "6.399e-03]]" in line  # first and last values


def test_events_show_x_y_p_t(caplog):
    ev = np.zeros(3, streams.EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = [5, 6, 7], [1, 2, 3], [1, 0, 1], [100, 200, 300]
    line = logged(caplog, "cam", streams.Message(streams.EVENTS, ev, {"width": 32, "height": 32}, streams.now()))
    assert "(5, 1, 1, 100) (6, 2, 0, 200) (7, 3, 1, 300)" in line
