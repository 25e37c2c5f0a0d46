"""Event filters that drop events (denoise, refractory, hot pixels, rate limit), checked
against dv-processing on a real DVXplorer recording and against plain per-event
references written out here."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from nodes.events.denoise import Denoise
from nodes.events.hotpixels import HotPixels
from nodes.events.ratelimit import RateLimit
from nodes.events.refractory import Refractory
from streamer.recording import concat
from streamer.streams import EVENT_DTYPE, events
from streamer.testing import run
from tests.conftest import need

dv = pytest.importorskip("dv_processing")


def _dvxplorer(shared_data):
    """(our events, dv-processing batches, resolution) of the DVXplorer recording."""
    rec = dv.io.MonoCameraRecording(str(need(shared_data / "events" / "dvxplorer.aedat4")))
    batches = []
    while (b := rec.getNextEventBatch()) is not None:
        batches.append(b)
    a = np.concatenate([b.numpy() for b in batches])
    ev = np.empty(len(a), EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = a["x"], a["y"], a["polarity"], a["timestamp"]
    return ev, batches, rec.getEventResolution()


def _chunks(ev, size, w, h):
    return [events(ev[i:i + size], width=w, height=h) for i in range(0, len(ev), size)]


def _out(result):
    return concat([m.data for m in result["out"]])


@pytest.mark.parametrize("window_us", [500, 2000, 10_000])
def test_denoise_keeps_exactly_what_dv_processing_keeps(shared_data, window_us):
    ev, batches, (w, h) = _dvxplorer(shared_data)
    assert len(ev) == 111_954  # data/README.md
    f = dv.noise.BackgroundActivityNoiseFilter((w, h), backgroundActivityDuration=timedelta(microseconds=window_us))
    ref = []
    for b in batches:
        f.accept(b)
        ref.append(f.generateEvents().numpy())
    ref = np.concatenate(ref)
    node = Denoise(window_us=window_us)
    got = _out(run(node, _chunks(ev, 5003, w, h)))  # chunking unlike the file's batches
    assert 0 < len(ref) < len(ev)
    assert np.array_equal(got["t"], ref["timestamp"])
    assert np.array_equal(got["x"], ref["x"]) and np.array_equal(got["y"], ref["y"])
    assert np.array_equal(got["p"], ref["polarity"])
    assert node.counters["dropped"] == len(ev) - len(ref)


def _dv_denoise(ev, w, h, window_us):
    store = dv.EventStore()
    for t, x, y, p in zip(ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist()):
        store.push_back(t, x, y, bool(p))
    f = dv.noise.BackgroundActivityNoiseFilter((w, h), backgroundActivityDuration=timedelta(microseconds=window_us))
    f.accept(store)
    return f.generateEvents().numpy()


def test_denoise_differs_from_dv_processing_only_on_never_fired_neighbours():
    """dv-processing's timestamp map starts at 0, so in the first window_us of a stream
    that starts at t = 0 every event counts as supported by its silent neighbours; here a
    pixel that has not fired supports nothing. Past that, the two agree."""
    rng = np.random.default_rng(3)
    n, w, h, window = 4000, 24, 16, 5000
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, 400_000, n))
    got = _out(run(Denoise(window_us=window), _chunks(ev, 331, w, h)))
    ref = _dv_denoise(ev, w, h, window)
    # dv-processing keeps a superset: everything we keep plus early events
    extra = np.setdiff1d(ref["timestamp"] * 1000 + ref["x"] * 31 + ref["y"],
                         got["t"] * 1000 + got["x"].astype(np.int64) * 31 + got["y"])
    assert len(extra) > 10 and len(ref) == len(got) + len(extra)
    assert np.all(extra // 1000 < window)
    assert np.array_equal(got["t"][got["t"] >= window], ref["timestamp"][ref["timestamp"] >= window])
    # shifted far from 0, dv-processing's initial map supports nothing either: identical
    late = ev.copy()
    late["t"] += 10 * window
    ref = _dv_denoise(late, w, h, window)
    assert np.array_equal(got["t"] + 10 * window, ref["timestamp"])
    assert np.array_equal(got["x"], ref["x"]) and np.array_equal(got["y"], ref["y"])


def test_denoise_on_nmnist_samples_matches_dv_processing(shared_data):
    """N-MNIST samples (ATIS, 34 x 34) start at t = 0: dv-processing agrees with us from
    window_us on, and everywhere once the sample is moved away from 0."""
    from drivers.dvs.nmnist import read_nmnist

    root = need(shared_data / "nmnist" / "labels.txt").parent
    window = 3000
    for sample in (1, 2, 3, 500):
        ev = read_nmnist(root / f"{sample}.bin")
        got = _out(run(Denoise(window_us=window), _chunks(ev, 701, 34, 34)))
        assert 0.2 * len(ev) < len(got) < len(ev)
        ref = _dv_denoise(ev, 34, 34, window)
        late = ref["timestamp"] >= window
        assert np.array_equal(got["t"][got["t"] >= window], ref["timestamp"][late])
        assert np.array_equal(got["x"][got["t"] >= window], ref["x"][late])
        shifted = ev.copy()
        shifted["t"] += 1_000_000
        ref = _dv_denoise(shifted, 34, 34, window)
        assert np.array_equal(got["t"] + 1_000_000, ref["timestamp"])
        assert np.array_equal(got["y"], ref["y"]) and np.array_equal(got["p"], ref["polarity"])


def test_denoise_does_not_modify_its_input():
    rng = np.random.default_rng(0)
    ev = np.empty(500, EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 8, 500), rng.integers(0, 8, 500), rng.integers(0, 2, 500)
    ev["t"] = np.sort(rng.integers(0, 100_000, 500))
    ev.flags.writeable = False
    out = _out(run(Denoise(window_us=3000), _chunks(ev, 64, 8, 8)))
    assert 0 < len(out) < 500


def _refractory_reference(ev, period_us, every=False):
    """every=False: the period runs from the last passed event; every=True: from the last
    event (dv-processing's C++ RefractoryPeriodFilter, which its Python binding lacks)."""
    last = {}
    keep = []
    for x, y, t in zip(ev["x"].tolist(), ev["y"].tolist(), ev["t"].tolist()):
        ok = (x, y) not in last or t - last[(x, y)] >= period_us
        keep.append(ok)
        if ok or every:
            last[(x, y)] = t
    return ev[np.array(keep)]


def test_refractory_matches_a_per_event_reference_across_chunk_sizes(shared_data):
    ev, _, (w, h) = _dvxplorer(shared_data)
    ev = ev[:30_000]
    ref = _refractory_reference(ev, 5000)
    for size in (997, 4096, 30_000):
        got = _out(run(Refractory(refractory_us=5000), _chunks(ev, size, w, h)))
        assert np.array_equal(got, ref)
    assert len(ref) < len(ev) * 0.95
    # one-event chunks on a slice: the state really carries over
    got = _out(run(Refractory(refractory_us=5000), _chunks(ev[:2000], 1, w, h)))
    assert np.array_equal(got, _refractory_reference(ev[:2000], 5000))


def test_refractory_restarting_on_drops_matches_its_reference(shared_data):
    ev, _, (w, h) = _dvxplorer(shared_data)
    ev = ev[:30_000]
    ref = _refractory_reference(ev, 5000, every=True)
    node = Refractory(refractory_us=5000, restart_on_drop=True)
    got = _out(run(node, _chunks(ev, 1733, w, h)))
    assert np.array_equal(got, ref)
    assert node.counters["dropped"] == len(ev) - len(ref)
    # restarting on drops keeps strictly fewer than restarting on passes only
    assert len(ref) < len(_refractory_reference(ev, 5000))


def _with_hot_pixels(shared_data):
    ev, _, (w, h) = _dvxplorer(shared_data)
    t0, t1 = int(ev["t"][0]), int(ev["t"][-1])
    hot_xy = [(5, 7), (300, 200), (160, 3)]
    n = 2000  # each: ~3.4 kHz, far above any real pixel of this recording
    extra = np.empty(n * len(hot_xy), EVENT_DTYPE)
    for i, (x, y) in enumerate(hot_xy):
        s = slice(i * n, (i + 1) * n)
        extra["x"][s], extra["y"][s], extra["p"][s] = x, y, 1
        extra["t"][s] = np.linspace(t0, t1, n).astype(np.int64)
    allev = concat([ev, extra])
    allev = allev[np.argsort(allev["t"], kind="stable")]
    return allev, hot_xy, w, h


def test_hotpixels_learns_injected_hot_pixels_whatever_the_chunking(shared_data):
    ev, hot_xy, w, h = _with_hot_pixels(shared_data)
    t_end = int(ev["t"][0]) + 200_000
    is_hot = np.zeros((h, w), bool)
    for x, y in hot_xy:
        is_hot[y, x] = True
    # the injected pixels pass during the 200 ms of learning, never after
    ref = ev[~(is_hot[ev["y"], ev["x"]] & (ev["t"] >= t_end))]
    rng = np.random.default_rng(8)
    for edges in ([0, len(ev)], np.r_[0, np.sort(rng.integers(0, len(ev), 50)), len(ev)]):
        node = HotPixels(learn_ms=200, factor=150)  # real pixels peak at ~110 x median here
        got = _out(run(node, [events(ev[a:b], width=w, height=h) for a, b in zip(edges[:-1], edges[1:])]))
        assert sorted(node.hot) == sorted(hot_xy)
        assert np.array_equal(got, ref)
        assert node.counters["dropped"] == len(ev) - len(ref)


def test_hotpixels_given_list(shared_data):
    ev, hot_xy, w, h = _with_hot_pixels(shared_data)
    node = HotPixels(pixels=hot_xy)
    got = _out(run(node, _chunks(ev, 10_000, w, h)))
    is_hot = np.zeros((h, w), bool)
    for x, y in hot_xy:
        is_hot[y, x] = True
    assert np.array_equal(got, ev[~is_hot[ev["y"], ev["x"]]])
    assert node.counters["dropped"] == int(is_hot[ev["y"], ev["x"]].sum())


def test_hotpixels_outside_sensor_is_a_clear_error():
    node = HotPixels(pixels=[(40, 2)])
    node.start()
    with pytest.raises(ValueError, match=r"\[40, 2\].*outside the 32x32"):
        node.receive("in", events(np.zeros(1, EVENT_DTYPE), width=32, height=32))


def _token_bucket_reference(ev, rate, burst_ms):
    cap = max(1.0, rate * burst_ms * 1e-3)
    credit, t_last, keep = cap, None, []
    for t in ev["t"].tolist():
        if t_last is None:
            t_last = t
        if t > t_last:
            credit = min(cap, credit + (t - t_last) * (rate * 1e-6))
            t_last = t
        keep.append(credit >= 1.0)
        if keep[-1]:
            credit -= 1.0
    return ev[np.array(keep, bool)]


def test_ratelimit_is_a_token_bucket_whatever_the_chunking(shared_data):
    ev, _, (w, h) = _dvxplorer(shared_data)
    ev = ev[:40_000]
    ref = _token_bucket_reference(ev, 50_000, 5)
    assert len(ref) < len(ev) / 2
    rng = np.random.default_rng(4)
    for edges in ([0, len(ev)], np.r_[0, np.sort(rng.integers(0, len(ev), 60)), len(ev)]):
        msgs = [events(ev[a:b], width=w, height=h) for a, b in zip(edges[:-1], edges[1:])]
        got = _out(run(RateLimit(max_events_per_s=50_000, burst_ms=5), msgs))
        assert np.array_equal(got, ref)


def test_ratelimit_caps_the_rate_and_counts_drops(shared_data):
    ev, _, (w, h) = _dvxplorer(shared_data)
    dur_s = (int(ev["t"][-1]) - int(ev["t"][0])) * 1e-6
    in_rate = len(ev) / dur_s
    limit = in_rate / 4
    node = RateLimit(max_events_per_s=limit, burst_ms=10)
    got = _out(run(node, _chunks(ev, 1000, w, h)))
    assert len(got) <= limit * dur_s + limit * 0.010 + 1
    assert len(got) >= 0.9 * limit * dur_s  # input is above the limit throughout
    assert node.counters["dropped"] == len(ev) - len(got)
    assert np.all(np.isin(got["t"], ev["t"]))
    # evenly spread: the kept share in each tenth of the recording is close to 1/4
    edges = np.linspace(ev["t"][0], ev["t"][-1] + 1, 6)
    share = np.histogram(got["t"], edges)[0] / np.histogram(ev["t"], edges)[0]
    assert np.all(share < 0.5)
    # deterministic
    again = _out(run(RateLimit(max_events_per_s=limit, burst_ms=10), _chunks(ev, 1000, w, h)))
    assert np.array_equal(got, again)


def test_ratelimit_passes_everything_below_the_limit(shared_data):
    ev, _, (w, h) = _dvxplorer(shared_data)
    node = RateLimit(max_events_per_s=5e6)
    got = _out(run(node, _chunks(ev, 1000, w, h)))
    assert np.array_equal(got, ev) and node.counters["dropped"] == 0


def test_events_outside_the_sensor_are_a_clear_error():
    ev = np.zeros(3, EVENT_DTYPE)
    ev["x"] = [1, 2, 50]
    node = Denoise()
    node.start()
    with pytest.raises(ValueError, match="x=50.*outside the 32x32 sensor"):
        node.receive("in", events(ev, width=32, height=32))


def test_refractory_rejects_events_outside_the_sensor():
    ev = np.zeros(4, EVENT_DTYPE)
    ev["y"] = [0, 1, 31, 32]
    node = Refractory()
    node.start()
    with pytest.raises(ValueError, match="y=32 outside the 32x32 sensor"):
        node.receive("in", events(ev, width=32, height=32))


def _denoise_reference(ev, w, h, window_us):
    """The rule per event in plain Python with exact integers."""
    last = {}
    keep = []
    for e in ev:
        x, y, t = int(e["x"]), int(e["y"]), int(e["t"])
        near = [last[(x + dx, y + dy)] for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                if (dx or dy) and (x + dx, y + dy) in last]
        keep.append(bool(near) and t - max(near) < window_us)
        last[(x, y)] = t
    return ev[np.array(keep, bool)]


def test_denoise_stays_exact_across_jumps_of_the_device_clock():
    """Pixel times are kept as int32 from a base that moves when time runs more than 2^30
    µs from it: decisions across such jumps (forward, back, within a chunk and between
    chunks) equal the exact rule's."""
    rng = np.random.default_rng(3)
    w, h, n = 12, 9, 4000
    ev = np.zeros(n, EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    steps = rng.integers(0, 400, n)
    steps[[500, 1700, 2500]] = [3 << 30, 5 << 31, 1500]  # jumps far past the int32 range
    ev["t"] = np.cumsum(steps) + (1 << 40)
    ev["t"][3000:3100] -= 7 << 30  # a stretch back in time (a reset clock)
    ref = _denoise_reference(ev, w, h, 1000)
    assert 0 < len(ref) < n
    for size in (n, 333):
        got = _out(run(Denoise(window_us=1000), _chunks(ev, size, w, h)))
        assert np.array_equal(got, ref)
