"""Event nodes that select or move pixels (ROI, polarity, downsample, flip), checked
against dv-processing's region/polarity filters and NumPy image operations."""
from __future__ import annotations

import numpy as np
import pydantic
import pytest

from nodes.events.downsample import Downsample
from nodes.events.flip import Flip
from nodes.events.polarity import Polarity
from nodes.events.roi import Roi
from streamer.recording import concat
from streamer.streams import EVENT_DTYPE, events
from streamer.testing import run

dv = pytest.importorskip("dv_processing")

W, H = 40, 30


def _random_events(n=5000, seed=0, w=W, h=H):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, w, n), rng.integers(0, h, n)
    ev["p"] = rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, 1_000_000, n))
    ev.flags.writeable = False  # nodes must not modify their input
    return ev


def _run(node, ev, w=W, h=H, size=777):
    out = run(node, [events(ev[i:i + size], width=w, height=h) for i in range(0, len(ev), size)])["out"]
    return concat([m.data for m in out]), out[-1].meta


def _dv_store(ev):
    store = dv.EventStore()
    for t, x, y, p in zip(ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist()):
        store.push_back(t, x, y, bool(p))
    return store


def _image(ev, w, h):
    img = np.zeros((h, w), np.int64)
    np.add.at(img, (ev["y"].astype(int), ev["x"].astype(int)), 1)
    return img


def test_roi_matches_dv_region_filter():
    ev = _random_events()
    f = dv.EventRegionFilter((5, 7, 20, 10))  # x, y, width, height
    f.accept(_dv_store(ev))
    ref = f.generateEvents().numpy()
    got, meta = _run(Roi(x0=5, y0=7, x1=25, y1=17, crop=False), ev)
    assert 0 < len(ref) < len(ev)
    assert np.array_equal(got["t"], ref["timestamp"]) and np.array_equal(got["x"], ref["x"])
    assert np.array_equal(got["y"], ref["y"]) and meta["width"] == W
    cropped, meta = _run(Roi(x0=5, y0=7, x1=25, y1=17), ev)
    assert np.array_equal(cropped["x"], ref["x"] - 5) and np.array_equal(cropped["y"], ref["y"] - 7)
    assert (meta["width"], meta["height"]) == (20, 10)


def test_roi_errors_name_the_problem():
    with pytest.raises(pydantic.ValidationError, match="empty region"):
        Roi(x0=5, x1=5, y1=3)
    node = Roi(x1=100, y1=10)
    node.start()
    with pytest.raises(ValueError, match="exceeds the 40x30 sensor"):
        node.receive("in", events(_random_events(10), width=W, height=H))


@pytest.mark.parametrize("keep", ["on", "off"])
def test_polarity_matches_dv_polarity_filter(keep):
    ev = _random_events()
    f = dv.EventPolarityFilter(keep == "on")
    f.accept(_dv_store(ev))
    ref = f.generateEvents().numpy()
    got, _ = _run(Polarity(keep=keep), ev)
    assert np.array_equal(got["t"], ref["timestamp"]) and np.array_equal(got["p"], ref["polarity"])
    merged, _ = _run(Polarity(keep=keep, merge=True), ev)
    assert np.array_equal(merged["t"], ref["timestamp"]) and np.all(merged["p"] == 1)


def test_polarity_both_passes_everything():
    ev = _random_events()
    got, _ = _run(Polarity(), ev)
    assert np.array_equal(got, ev)


@pytest.mark.parametrize("factor", [1, 2, 3, 7])
def test_downsample_sums_blocks_like_numpy(factor):
    ev = _random_events()
    got, meta = _run(Downsample(factor=factor), ev)
    w2, h2 = -(-W // factor), -(-H // factor)
    assert (meta["width"], meta["height"]) == (w2, h2)
    img = np.zeros((h2 * factor, w2 * factor), np.int64)
    img[:H, :W] = _image(ev, W, H)
    ref = img.reshape(h2, factor, w2, factor).sum(axis=(1, 3))
    assert np.array_equal(_image(got, w2, h2), ref)
    assert np.array_equal(got["t"], ev["t"])


@pytest.mark.parametrize("flip_x", [False, True])
@pytest.mark.parametrize("flip_y", [False, True])
@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_flip_matches_numpy_image_operations(flip_x, flip_y, rotate):
    ev = _random_events(3000)
    got, meta = _run(Flip(flip_x=flip_x, flip_y=flip_y, rotate=rotate), ev)
    img = _image(ev, W, H)
    if flip_x:
        img = img[:, ::-1]
    if flip_y:
        img = img[::-1, :]
    img = np.rot90(img, k=-rotate // 90)  # negative k: clockwise
    assert (meta["height"], meta["width"]) == img.shape
    assert np.array_equal(_image(got, meta["width"], meta["height"]), img)
    assert np.array_equal(got["t"], ev["t"]) and np.array_equal(got["p"], ev["p"])


def _integrate_and_fire_reference(ev, factor, threshold):
    acc = {}
    out = []
    for t, x, y, p in zip(ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist()):
        key = (x // factor, y // factor)
        a = acc.get(key, 0) + (1 if p else -1)
        if abs(a) >= threshold:
            out.append((t, key[0], key[1], int(a > 0)))
            a = 0
        acc[key] = a
    ref = np.empty(len(out), EVENT_DTYPE)
    if out:
        ref["t"], ref["x"], ref["y"], ref["p"] = np.array(out).T
    return ref


@pytest.mark.parametrize("factor,threshold", [(2, 2), (3, 3), (4, 1)])
def test_downsample_integrate_and_fire_matches_a_per_event_reference(factor, threshold):
    ev = _random_events(8000, seed=factor)
    # more ON than OFF in the left half, so the sums drift and both signs fire
    ev = ev.copy()
    ev["p"][ev["x"] < W // 2] |= np.random.default_rng(1).random((ev["x"] < W // 2).sum()) < 0.5
    ev.flags.writeable = False
    ref = _integrate_and_fire_reference(ev, factor, threshold)
    node = Downsample(factor=factor, accumulate=threshold)
    got, meta = _run(node, ev, size=613)
    assert (meta["width"], meta["height"]) == (-(-W // factor), -(-H // factor))
    assert np.array_equal(got, ref)
    assert node.counters["merged"] == len(ev) - len(ref)
    assert {0, 1} <= set(got["p"].tolist())
    if threshold > 1:
        assert len(got) < len(ev) / threshold * 1.2
    else:
        assert len(got) == len(ev)
