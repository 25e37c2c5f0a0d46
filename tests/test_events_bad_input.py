"""Every event node refuses malformed Events with an error that names the node and the
problem, instead of crashing in a kernel or indexing out of bounds."""
from __future__ import annotations

import numpy as np
import pytest

from nodes.events.bin import Bin
from nodes.events.denoise import Denoise
from nodes.events.downsample import Downsample
from nodes.events.flip import Flip
from nodes.events.hotpixels import HotPixels
from nodes.events.polarity import Polarity
from nodes.events.ratelimit import RateLimit
from nodes.events.refractory import Refractory
from nodes.events.roi import Roi
from streamer.streams import EVENT_DTYPE, EVENTS, Message, events

NODES = [Denoise, Refractory, lambda: HotPixels(learn_ms=10), lambda: Roi(x1=4, y1=4), Polarity,
         Downsample, lambda: Downsample(factor=2, accumulate=2), Flip, RateLimit, Bin]


def _node(make):
    node = make()
    node.name = "cam_filter"
    node.start()
    return node


@pytest.mark.parametrize("make", NODES)
def test_wrong_dtype_names_the_expected_layout(make):
    node = _node(make)
    wrong = np.zeros(5, dtype=[("x", "i4"), ("y", "i4"), ("t", "f8")])
    with pytest.raises(TypeError, match=r"cam_filter: Events data must be .*EVENT_DTYPE.*got .*as_events"):
        node.receive("in", Message(EVENTS, wrong, {"width": 8, "height": 8}))
    with pytest.raises(TypeError, match="cam_filter: .*got list"):
        node.receive("in", Message(EVENTS, [1, 2, 3], {"width": 8, "height": 8}))


@pytest.mark.parametrize("make", NODES)
def test_missing_geometry_says_who_must_set_it(make):
    node = _node(make)
    ev = np.zeros(3, EVENT_DTYPE)
    with pytest.raises(ValueError, match="cam_filter: the Events stream has no width/height"):
        node.receive("in", Message(EVENTS, ev, {}))
    with pytest.raises(ValueError, match="cam_filter: .* sensor is 0x8"):
        node.receive("in", Message(EVENTS, ev, {"width": 0, "height": 8}))


@pytest.mark.parametrize("make", NODES)
def test_events_off_the_sensor_are_named(make):
    node = _node(make)
    ev = np.zeros(4, EVENT_DTYPE)
    ev["x"] = [0, 1, 9, 2]
    ev["t"] = [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"cam_filter: event at x=9, y=0 outside the 8x8 sensor"):
        node.receive("in", events(ev, width=8, height=8))
