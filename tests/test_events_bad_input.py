"""Every event node refuses malformed Events with Rejected (counted by the runtime, the node
goes on) that names the node and the problem, instead of crashing in a kernel or indexing
out of bounds; a refused chunk leaves the node's state as it was."""
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
from streamer.node import Rejected
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
    with pytest.raises(Rejected, match=r"cam_filter: Events data must be .*EVENT_DTYPE.*got .*as_events"):
        node.receive("in", Message(EVENTS, wrong, {"width": 8, "height": 8}))
    with pytest.raises(Rejected, match="cam_filter: .*got list"):
        node.receive("in", Message(EVENTS, [1, 2, 3], {"width": 8, "height": 8}))


@pytest.mark.parametrize("make", NODES)
def test_missing_geometry_says_who_must_set_it(make):
    node = _node(make)
    ev = np.zeros(3, EVENT_DTYPE)
    with pytest.raises(Rejected, match="cam_filter: the Events stream has no width/height"):
        node.receive("in", Message(EVENTS, ev, {}))
    with pytest.raises(Rejected, match="cam_filter: .* sensor is 0x8"):
        node.receive("in", Message(EVENTS, ev, {"width": 0, "height": 8}))


@pytest.mark.parametrize("make", NODES)
def test_events_off_the_sensor_are_named(make):
    node = _node(make)
    ev = np.zeros(4, EVENT_DTYPE)
    ev["x"] = [0, 1, 9, 2]
    ev["t"] = [0, 1, 2, 3]
    with pytest.raises(Rejected, match=r"cam_filter: event at x=9, y=0 outside the 8x8 sensor"):
        node.receive("in", events(ev, width=8, height=8))


STATEFUL = [Denoise, lambda: Refractory(refractory_us=5), lambda: HotPixels(pixels=[[1, 1]]),
            lambda: Downsample(factor=2, accumulate=2)]


def _chunk(xs, t0):
    ev = np.zeros(len(xs), EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = xs, [1] * len(xs), 1, np.arange(len(xs)) + t0
    return ev


@pytest.mark.parametrize("make", STATEFUL)
def test_a_refused_chunk_changes_nothing(make):
    """Events off the sensor late in a chunk, or a chunk of another, larger sensor with a
    listed pixel off it: refused before any per-pixel state is touched."""
    seen, fresh = _node(make), _node(make)
    good = [events(_chunk([0, 1, 2, 1, 0], 100 * k), width=8, height=8) for k in range(4)]
    bad = [events(_chunk([1, 2, 3, 9], 198), width=8, height=8),
           events(_chunk([0], 160), width=65536, height=65536)]
    out_seen, out_fresh = [], []
    for k, msg in enumerate(good):
        if k == 2:
            for b in bad:
                with pytest.raises(Rejected):
                    seen.receive("in", b)
        out_seen.append(seen.receive("in", msg).data)
        out_fresh.append(fresh.receive("in", msg).data)
    assert all(np.array_equal(a, b) for a, b in zip(out_seen, out_fresh))
    assert seen.counters == fresh.counters
