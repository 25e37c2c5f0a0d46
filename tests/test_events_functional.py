"""The plain event functions (nodes.events.functional) give what their nodes send, on the
real DVXplorer recording: one call over the whole array equals the node fed in chunks,
the state objects fed chunk by chunk equal one call, and no input is changed."""
from __future__ import annotations

import numpy as np
import pytest

import nodes.events.functional as F
from nodes.events.bin import Bin
from nodes.events.denoise import Denoise
from nodes.events.downsample import Downsample
from nodes.events.flip import Flip
from nodes.events.hotpixels import HotPixels
from nodes.events.polarity import Polarity
from nodes.events.ratelimit import RateLimit
from nodes.events.refractory import Refractory
from nodes.events.roi import Roi
from streamer.recording import concat
from streamer.streams import EVENT_DTYPE, as_events, events
from streamer.testing import run
from tests.conftest import need

W, H = 320, 240  # DVXplorer (data/README.md)
CHUNK = 7919     # a prime: chunks that cut the stream anywhere

# (function, node class, parameters, whether the function takes the sensor size)
CASES = {
    "denoise": (F.denoise, Denoise, {"window_us": 2000}, True),
    "refractory": (F.refractory, Refractory, {"refractory_us": 1000}, True),
    "refractory_restart": (F.refractory, Refractory, {"refractory_us": 500, "restart_on_drop": True}, True),
    "hotpixels": (F.hotpixels, HotPixels, {"pixels": [(3, 4), (100, 200)], "learn_ms": 50.0, "factor": 5.0}, True),
    "roi": (F.roi, Roi, {"x0": 40, "y0": 30, "x1": 200, "y1": 150}, False),
    "roi_uncropped": (F.roi, Roi, {"x0": 40, "y0": 30, "x1": 200, "y1": 150, "crop": False}, False),
    "flip": (F.flip, Flip, {"flip_x": True, "rotate": 90}, True),
    "flip_y": (F.flip, Flip, {"flip_y": True, "rotate": 270}, True),
    "polarity": (F.polarity, Polarity, {"keep": "on", "merge": False}, False),
    "polarity_merge": (F.polarity, Polarity, {"keep": "off", "merge": True}, False),
    "downsample": (F.downsample, Downsample, {"factor": 4}, True),
    "downsample_integrate": (F.downsample, Downsample, {"factor": 2, "accumulate": 3}, True),
    "ratelimit": (F.ratelimit, RateLimit, {"max_events_per_s": 50_000, "burst_ms": 5}, False),
}

STATES = {
    "denoise": (F.DenoiseState, {"window_us": 2000}),
    "refractory": (F.RefractoryState, {"refractory_us": 1000, "restart_on_drop": True}),
    "hotpixels": (F.HotPixelsState, {"pixels": [(3, 4)], "learn_ms": 50.0, "factor": 5.0}),
    "downsample": (F.DownsampleState, {"factor": 2, "accumulate": 3}),
    "ratelimit": (F.RateLimitState, {"max_events_per_s": 50_000, "burst_ms": 5}),
}


@pytest.fixture(scope="module")
def recording(shared_data) -> np.ndarray:
    from drivers.dvs.readers import read_events

    ev = read_events(need(shared_data / "events" / "dvxplorer.aedat4"))
    assert len(ev) == 111_954 and int(ev["x"].max()) < W and int(ev["y"].max()) < H  # data/README.md
    ev.setflags(write=False)  # any function writing into its input fails
    return ev


def _node_out(node, ev: np.ndarray) -> np.ndarray:
    out = run(node, [events(ev[i:i + CHUNK], width=W, height=H) for i in range(0, len(ev), CHUNK)])["out"]
    return concat([m.data for m in out])


@pytest.mark.parametrize("case", sorted(CASES))
def test_function_equals_its_node(recording, case):
    fn, node_type, params, sized = CASES[case]
    before = recording.copy()
    got = fn(recording, width=W, height=H, **params) if sized else fn(recording, **params)
    want = _node_out(node_type(**params), recording)
    assert got.dtype == EVENT_DTYPE
    assert 0 < len(got) and np.array_equal(got, want)
    assert np.array_equal(recording, before)
    assert not np.shares_memory(got, recording)


@pytest.mark.parametrize("case", sorted(STATES))
def test_state_in_chunks_equals_one_call(recording, case):
    state_type, params = STATES[case]
    one = state_type(width=W, height=H, **params)(recording) if case != "ratelimit" else state_type(**params)(recording)
    for size in (1000, 33_333):
        state = state_type(width=W, height=H, **params) if case != "ratelimit" else state_type(**params)
        parts = [state(recording[i:i + size]) for i in range(0, len(recording), size)]
        assert np.array_equal(concat(parts), one)
    assert 0 < len(one) <= len(recording)


def test_learned_hot_pixels_are_those_of_the_node(recording):
    params = {"learn_ms": 50.0, "factor": 5.0}
    node = HotPixels(**params)
    _node_out(node, recording)
    state = F.HotPixelsState(width=W, height=H, **params)
    state(recording)
    assert state.hot == node.hot and len(state.hot) > 0


@pytest.mark.parametrize("fit", ["scale", "crop"])
def test_bin_events_equals_the_frames_the_node_sends(recording, fit):
    shape = (2, 60, 80)
    frames, t_first_us = F.bin_events(recording, width=W, height=H, bin_us=1000, shape=shape, fit=fit)
    out = run(Bin(bin_us=1000, shape=shape, frames_per_message=7, fit=fit),
              [events(recording[i:i + CHUNK], width=W, height=H) for i in range(0, len(recording), CHUNK)])["out"]
    assert out[0].meta["t_first_us"] == t_first_us
    np.testing.assert_array_equal(np.concatenate([m.data for m in out]), frames)
    assert frames.dtype == np.float32 and frames.shape[1:] == shape
    assert len(frames) == (int(recording["t"][-1]) - t_first_us) // 1000 + 1
    if fit == "scale":
        assert frames.sum() == len(recording)
    else:  # the centred 80 x 60 window of the 320 x 240 sensor
        x, y = recording["x"], recording["y"]
        assert frames.sum() == np.count_nonzero((x >= 120) & (x < 200) & (y >= 90) & (y < 150))


def test_functions_refuse_what_their_nodes_refuse():
    ev = as_events(x=[1, 50], y=[1, 2], p=[1, 0], t=[0, 10])
    with pytest.raises(ValueError, match=r"event 1 at x=50, y=2 is outside the 32x32 sensor"):
        F.denoise(ev, width=32, height=32)
    with pytest.raises(ValueError, match=r"event 1 at x=50, y=2 is outside the 40x40 sensor"):
        F.flip(ev, width=40, height=40, flip_x=True)
    with pytest.raises(ValueError, match="greater than 0"):
        F.denoise(ev, width=64, height=64, window_us=0)
    with pytest.raises(ValueError, match=r"hot pixel \[40, 0\] is outside the 32x32 sensor"):
        F.hotpixels(ev[:1], width=32, height=32, pixels=[(40, 0)])
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        F.refractory(np.zeros((3, 4)), width=32, height=32)
    with pytest.raises(ValueError, match="empty region"):
        F.roi(ev, x0=5, x1=5, y1=4)
    with pytest.raises(ValueError, match="widen bin_us"):
        F.bin_events(as_events(x=[0, 0], y=[0, 0], p=[1, 1], t=[0, 10 ** 15]), width=4, height=4, bin_us=1)


def test_empty_input_gives_empty_output():
    ev = np.zeros(0, EVENT_DTYPE)
    for case, (fn, _, params, sized) in CASES.items():
        out = fn(ev, width=W, height=H, **params) if sized else fn(ev, **params)
        assert out.dtype == EVENT_DTYPE and len(out) == 0, case
    frames, t_first_us = F.bin_events(ev, width=W, height=H)
    assert frames.shape == (0, 2, 34, 34) and t_first_us == 0
