"""events.bin: frames of counts against np.histogramdd, whatever the chunking."""
from __future__ import annotations

import numpy as np
import pydantic
import pytest

from nodes.events.bin import Bin
from streamer.recording import concat
from streamer.streams import EVENT_DTYPE, FRAMES, events
from streamer.testing import run
from tests.conftest import need


def _random_events(n=20_000, w=64, h=48, seed=1, t0=1_234_567):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(t0, t0 + 200_000, n))
    ev.flags.writeable = False
    return ev


def _reference(ev, bin_us, shape, w, h, t_first):
    """np.histogramdd over (bin, channel, row, column) with the scaled coordinates."""
    c, hh, ww = shape
    n_bins = int(ev["t"][-1] - t_first) // bin_us + 1
    sample = np.column_stack([
        (ev["t"] - t_first) // bin_us,
        ev["p"] if c == 2 else np.zeros(len(ev)),
        ev["y"].astype(np.int64) * hh // h,
        ev["x"].astype(np.int64) * ww // w,
    ]).astype(float)
    hist, _ = np.histogramdd(sample, bins=(n_bins, c, hh, ww),
                             range=((0, n_bins), (0, c), (0, hh), (0, ww)))
    return hist


def _frames(ev, chunk_edges, w, h, **params):
    node = Bin(**params)
    msgs = [events(ev[a:b], width=w, height=h) for a, b in zip(chunk_edges[:-1], chunk_edges[1:])]
    return run(node, msgs)["out"], node


@pytest.mark.parametrize("shape", [(2, 48, 64), (1, 48, 64), (2, 17, 34)])
@pytest.mark.parametrize("bin_us", [1000, 7919])
def test_bins_equal_histogramdd_for_any_chunking(shape, bin_us):
    ev = _random_events()
    t_first = int(ev["t"][0]) // bin_us * bin_us
    ref = _reference(ev, bin_us, shape, 64, 48, t_first)
    rng = np.random.default_rng(5)
    for edges in ([0, len(ev)], np.r_[0, np.sort(rng.integers(0, len(ev), 40)), len(ev)]):
        out, _ = _frames(ev, edges, 64, 48, bin_us=bin_us, shape=shape)
        assert all(m.stream == FRAMES and m.meta["bin_us"] == bin_us for m in out)
        got = np.concatenate([m.data for m in out])
        assert got.shape == ref.shape and got.dtype == np.float32
        assert np.array_equal(got, ref)
        # each message says where its first bin starts
        starts = [m.meta["t_first_us"] for m in out]
        assert starts == [t_first + i * bin_us for i in range(len(out))]


@pytest.mark.parametrize("shape", [(2, 20, 30), (1, 48, 64), (2, 60, 70)])
def test_crop_keeps_the_centred_window_at_full_resolution(shape):
    ev = _random_events()
    c, hh, ww = shape
    x0, y0 = (64 - ww) // 2, (48 - hh) // 2
    row, col = ev["y"].astype(np.int64) - y0, ev["x"].astype(np.int64) - x0
    inside = (row >= 0) & (row < hh) & (col >= 0) & (col < ww)
    t_first = int(ev["t"][0]) // 1000 * 1000
    n_bins = int(ev["t"][-1] - t_first) // 1000 + 1
    sample = np.column_stack([(ev["t"][inside] - t_first) // 1000,
                              ev["p"][inside] if c == 2 else np.zeros(inside.sum()),
                              row[inside], col[inside]]).astype(float)
    ref, _ = np.histogramdd(sample, bins=(n_bins, c, hh, ww), range=((0, n_bins), (0, c), (0, hh), (0, ww)))
    edges = np.r_[0, np.sort(np.random.default_rng(2).integers(0, len(ev), 25)), len(ev)]
    out, node = _frames(ev, edges, 64, 48, bin_us=1000, shape=shape, fit="crop")
    got = np.concatenate([m.data for m in out])
    assert np.array_equal(got, ref)
    assert node.counters.get("outside", 0) == int((~inside).sum())
    assert (~inside).any() == (hh < 48 or ww < 64)


def test_bins_are_emitted_when_they_close_and_grouped():
    ev = _random_events(t0=0)
    bin_us = 10_000
    # Chunks end at 25 ms, 95 ms, 200 ms: 2, then 9 bins are complete; the rest at finish.
    edges = [0, *np.searchsorted(ev["t"], [25_000, 95_000]), len(ev)]
    node = Bin(bin_us=bin_us, shape=(2, 48, 64), frames_per_message=4)
    node.start()
    msgs = [events(ev[a:b], width=64, height=48) for a, b in zip(edges[:-1], edges[1:])]
    first = node.receive("in", msgs[0])
    assert first is None  # 2 complete bins, fewer than 4
    second = node.receive("in", msgs[1])
    assert [m.data.shape[0] for m in second] == [4, 4]  # 9 complete: 8 sent, 1 held
    assert [m.meta["t_first_us"] for m in second] == [0, 40_000]
    rest = node.receive("in", msgs[2]) or []
    rest += node.finish() or []
    total = np.concatenate([m.data for m in second + rest])
    assert np.array_equal(total, _reference(ev, bin_us, (2, 48, 64), 64, 48, 0))


def test_silent_stretches_give_empty_bins():
    ev = np.zeros(3, EVENT_DTYPE)
    ev["x"], ev["t"] = [1, 2, 3], [0, 1500, 5200]
    out, _ = _frames(ev, [0, 1, 2, 3], 8, 8, bin_us=1000, shape=(1, 8, 8))
    got = np.concatenate([m.data for m in out])
    assert got.shape == (6, 1, 8, 8)
    assert got.sum(axis=(1, 2, 3)).tolist() == [1, 1, 0, 0, 0, 1]


def test_bad_shape_is_a_clear_error():
    with pytest.raises(pydantic.ValidationError, match="C = 1 or 2"):
        Bin(shape=(3, 34, 34))


def test_real_recording_counts_match(shared_data):
    dv = pytest.importorskip("dv_processing")
    rec = dv.io.MonoCameraRecording(str(need(shared_data / "events" / "dvxplorer.aedat4")))
    parts = []
    while (b := rec.getNextEventBatch()) is not None:
        a = b.numpy()
        ev = np.empty(len(a), EVENT_DTYPE)
        ev["x"], ev["y"], ev["p"], ev["t"] = a["x"], a["y"], a["polarity"], a["timestamp"]
        parts.append(ev)
    msgs = [events(p, width=320, height=240) for p in parts]
    out = run(Bin(bin_us=5000, shape=(2, 60, 80), frames_per_message=8), msgs)["out"]
    got = np.concatenate([m.data for m in out])
    ev = concat(parts)
    assert got.sum() == len(ev) == 111_954
    assert got[:, 1].sum() == int((ev["p"] == 1).sum())
    t_first = int(ev["t"][0]) // 5000 * 5000
    assert np.array_equal(got, _reference(ev, 5000, (2, 60, 80), 320, 240, t_first))


def test_events_older_than_the_open_bin_are_counted_late():
    a = np.zeros(2, EVENT_DTYPE)
    a["t"] = [0, 3500]
    b = np.zeros(1, EVENT_DTYPE)
    b["t"] = [100]  # out of order: its bin was already sent
    node = Bin(bin_us=1000, shape=(1, 4, 4))
    out = run(node, [events(a, width=4, height=4), events(b, width=4, height=4)])["out"]
    got = np.concatenate([m.data for m in out])
    assert got.sum() == 3 and node.counters["late"] == 1


def test_nmnist_frames_are_tonic_style_counts(shared_data):
    """The SNN input of the N-MNIST CNN: 1 ms bins of [2, 34, 34] counts per polarity,
    what tonic's ToFrame(time_window=1000) gives, computed here with np.histogramdd."""
    from drivers.dvs.nmnist import read_nmnist

    root = need(shared_data / "nmnist" / "labels.txt").parent
    for sample in (7, 42):
        ev = read_nmnist(root / f"{sample}.bin")
        assert 2000 < len(ev) < 10_000  # data/README.md: about 4,000 events each
        edges = np.r_[0, np.sort(np.random.default_rng(sample).integers(0, len(ev), 30)), len(ev)]
        out, _ = _frames(ev, edges, 34, 34, bin_us=1000, shape=(2, 34, 34), frames_per_message=10)
        got = np.concatenate([m.data for m in out])
        t_first = int(ev["t"][0]) // 1000 * 1000
        n_bins = int(ev["t"][-1] - t_first) // 1000 + 1
        sample_xyz = np.column_stack([(ev["t"] - t_first) // 1000, ev["p"], ev["y"], ev["x"]]).astype(float)
        ref, _ = np.histogramdd(sample_xyz, bins=(n_bins, 2, 34, 34),
                                range=((0, n_bins), (0, 2), (0, 34), (0, 34)))
        assert got.shape == (n_bins, 2, 34, 34) and 250 < n_bins < 350
        assert np.array_equal(got, ref)


def test_frames_reused_after_the_consumer_drops_them_stay_exact():
    """Slabs of frames are reused once no message views them: each message, read as it
    comes and then dropped, still equals the reference; one kept message is never
    written again."""
    ev = _random_events(n=60_000, t0=0)
    ref = _reference(ev, 250, (2, 48, 64), 64, 48, 0)  # 800 bins: slabs of ~170 bins move often
    node = Bin(bin_us=250, shape=(2, 48, 64), frames_per_message=7)
    node.start()
    kept = None
    got, slabs = [], []
    for a in range(0, len(ev), 3000):
        for m in node.receive("in", events(ev[a:a + 3000], width=64, height=48)) or []:
            got.append(m.data.copy())
            slab = m.data.base.__array_interface__["data"][0]
            if not slabs or slabs[-1] != slab:
                slabs.append(slab)
            if kept is None:
                kept, kept_copy = m, m.data.copy()
    for m in node.finish() or []:
        got.append(m.data.copy())
    assert np.array_equal(np.concatenate(got), ref)
    assert np.array_equal(kept.data, kept_copy)
    # the frames went through a few slabs, each used again (cleared by the kernel as it
    # reached its bins), not one per chunk
    assert len(set(slabs)) < len(slabs) and len(node.held.spares) <= 3


def test_held_frames_reuse_only_slabs_no_view_holds(monkeypatch):
    from nodes.events import held_frames

    monkeypatch.setattr(held_frames, "MIN_SLAB_BYTES", 0)  # slabs of 4 bins + 1/4: they move soon
    held = held_frames.HeldFrames((1, 2, 2))
    held.grow(4)
    first = held.slab.__array_interface__["data"][0]
    held.frames[:] = 1
    sent = held.take(4)
    held.grow(4)  # no room left: another slab; the first is a spare still viewed by `sent`
    assert held.slab.__array_interface__["data"][0] != first
    assert (held.frames == 0).all() and (sent == 1).all()
    held.frames[:] = 2
    held.take(4)  # dropped at once
    held.grow(4)  # the first slab is still viewed: a third one
    assert held.slab.__array_interface__["data"][0] != first and (sent == 1).all()
    del sent
    held.take(4)
    held.grow(4)
    # no view of the first slab is left: reused, its bins cleared as they are claimed
    assert held.slab.__array_interface__["data"][0] == first
    assert held.frames.shape == (4, 1, 2, 2) and (held.frames == 0).all()
