"""The synthetic event camera: determinism, schedule and markers, what its pixels see,
noise rates against Poisson expectations, pacing."""
from __future__ import annotations

import time

import numpy as np
import pydantic
import pytest
from scipy import stats

from drivers.dvs import synthetic
from drivers.dvs.synthetic import SyntheticCamera, generate_trials
from streamer.recording import concat
from streamer.streams import EVENT_DTYPE
from streamer.testing import run


def _events(**params):
    out = run(SyntheticCamera(speed=0, **params))
    return concat([m.data for m in out["out"]]), out.get("markers", [])


def test_same_seed_same_events_other_seed_other_events():
    a, _ = _events(n_trials=3, seed=7, noise_hz=2.0, hot_pixels=2)
    b, _ = _events(n_trials=3, seed=7, noise_hz=2.0, hot_pixels=2)
    c, _ = _events(n_trials=3, seed=8, noise_hz=2.0, hot_pixels=2)
    assert a.dtype == EVENT_DTYPE and len(a) > 1000
    assert np.array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)


def test_events_are_in_bounds_and_time_ordered():
    ev, _ = _events(n_trials=2, width=40, height=24, noise_hz=1.0)
    assert ev["x"].max() < 40 and ev["y"].max() < 24
    assert np.all(np.diff(ev["t"]) >= 0)
    assert set(np.unique(ev["p"])) == {0, 1}
    assert ev["t"].max() < 2 * 400_000


def test_signal_does_not_depend_on_chunk_size():
    a, _ = _events(n_trials=2, noise_hz=0.0, chunk_ms=10)
    b, _ = _events(n_trials=2, noise_hz=0.0, chunk_ms=70)
    assert np.array_equal(a, b)


def test_markers_follow_the_schedule():
    ev, marks = _events(n_trials=8, trial_ms=200, gap_ms=50, classes=["cross", "7", "circle"])
    times = [m.data["time_s"] for m in marks]
    assert times == pytest.approx([i * 0.25 for i in range(8)])
    labels = [m.data["label"] for m in marks]
    values = [m.data["value"] for m in marks]
    assert all(["cross", "7", "circle"][v] == lab for v, lab in zip(values, labels))
    # balanced blocks: the first 6 trials show each class twice
    assert sorted(values[:6]) == [0, 0, 1, 1, 2, 2]
    # the stream ends after the last gap
    assert ev["t"].max() < 8 * 250_000


def test_object_events_only_while_a_trial_is_shown():
    ev, _ = _events(n_trials=3, noise_hz=0.0, trial_ms=300, gap_ms=100)
    phase = ev["t"] % 400_000
    # signal in the trial, plus the OFF burst of the object leaving in the step after it
    assert np.all((phase < 300_000) | ((phase < 301_000) & (ev["p"] == 0)))
    assert np.any(phase >= 300_000)


@pytest.mark.parametrize("name", ["circle", "square", "triangle", "cross", "0", "8"])
def test_onset_burst_covers_the_shape(name):
    """At onset every pixel the object covers fires ON events in the first millisecond:
    their number matches the shape's area (template fill fraction x size^2)."""
    size = 20.0
    trials = generate_trials(1, seed=3, classes=[name], width=32, height=32, noise_hz=0.0,
                             size_px=size, speed_px_per_s=0.0)
    ev, label = trials[0]
    assert label == 0
    first = ev[(ev["t"] < 1000) & (ev["p"] == 1)]
    lit = len(np.unique(first["y"].astype(int) * 32 + first["x"]))
    area = synthetic.template(name).mean() * size ** 2
    # partially covered border pixels also fire: allow the perimeter band
    assert area * 0.85 < lit < area * 1.35 + 4 * size
    # a still object then gives no events until it disappears
    assert np.all(ev["t"][ev["t"] >= 1000] >= 1000) and np.sum(ev["t"] >= 2000) == 0


def test_classes_look_different():
    """Mean event-count images of the classes are each closer to their own class's
    images than to the other classes' (nearest centroid on held-out trials)."""
    trials = generate_trials(32, seed=0, noise_hz=0.0, speed_px_per_s=10.0)
    img = np.zeros((len(trials), 32 * 32))
    for i, (ev, _) in enumerate(trials):
        early = ev[ev["t"] < 5000]
        np.add.at(img[i], early["y"].astype(int) * 32 + early["x"], 1)
    y = np.array([lab for _, lab in trials])
    img /= np.linalg.norm(img, axis=1, keepdims=True)
    # shape identity is in the area each class lights up at onset
    areas = [[np.count_nonzero(img[i]) for i in np.flatnonzero(y == c)] for c in range(4)]
    means = sorted(np.mean(a) for a in areas)
    assert all(b - a > 15 for a, b in zip(means, means[1:]))


def test_background_activity_and_hot_pixel_rates():
    ev, _ = _events(n_trials=1, trial_ms=10, gap_ms=2990, noise_hz=5.0, hot_pixels=3,
                    hot_pixel_hz=300.0, seed=4)
    quiet = ev[ev["t"] >= 20_000]  # after the object has gone
    dur_s = (3_000_000 - 20_000) * 1e-6
    pix = quiet["y"].astype(int) * 32 + quiet["x"]
    counts = np.bincount(pix, minlength=32 * 32)
    hot = np.argsort(counts)[-3:]
    rest = np.delete(counts, hot).sum()
    expected = 5.0 * (32 * 32 - 3) * dur_s
    assert stats.poisson(expected).ppf(0.0005) < rest < stats.poisson(expected).ppf(0.9995)
    for h in hot:
        exp_h = (300.0 + 5.0) * dur_s
        assert stats.poisson(exp_h).ppf(0.0005) < counts[h] < stats.poisson(exp_h).ppf(0.9995)


def test_real_time_pacing():
    cam = SyntheticCamera(speed=1.0, chunk_ms=10, n_trials=1, trial_ms=100, gap_ms=0)
    t0 = time.monotonic()
    out = run(cam)
    took = time.monotonic() - t0
    assert len(out["out"]) == 10
    assert took >= 0.085  # the first chunk is due at once, nine more 10 ms apart


def test_bad_parameters_name_the_field():
    with pytest.raises(pydantic.ValidationError, match="classes"):
        SyntheticCamera(classes=["hexagon"])
    with pytest.raises(pydantic.ValidationError, match="chunk_ms"):
        SyntheticCamera(chunk_ms=0)


def test_generate_trials_shape():
    trials = generate_trials(5, seed=2, classes=["1", "2"], trial_ms=100)
    assert len(trials) == 5
    for ev, label in trials:
        assert label in (0, 1)
        assert ev.dtype == EVENT_DTYPE
        assert ev["t"].min() >= 0 and ev["t"].max() < 100_000


def test_duration_ends_the_stream():
    ev, marks = _events(duration_s=0.9, trial_ms=200, gap_ms=100, noise_hz=5.0)
    assert ev["t"].max() < 900_000 and ev["t"].max() > 880_000  # noise up to the end
    assert [m.data["time_s"] for m in marks] == pytest.approx([0.0, 0.3, 0.6])
    # n_trials ends it earlier when it comes first
    ev, marks = _events(duration_s=5.0, n_trials=2, trial_ms=200, gap_ms=100, noise_hz=5.0)
    assert ev["t"].max() < 600_000 and len(marks) == 2


def _onset_on_counts(cam):
    ev = concat([m.data for m in run(cam)["out"]])
    on = ev[(ev["p"] == 1) & (ev["t"] < 1000)]
    counts = np.zeros((32, 32), int)
    np.add.at(counts, (on["y"].astype(int), on["x"].astype(int)), 1)
    return counts


def test_threshold_mismatch_spreads_the_events_per_edge():
    """A still square lit at onset: each fully covered pixel steps by ln(fg/bg) in log
    intensity, so it fires floor(ln(fg/bg) / its threshold) ON events. With a 10%
    mismatch the counts spread; the thresholds centre on the nominal one."""
    params = dict(speed=0, n_trials=1, trial_ms=20, gap_ms=0, classes=["square"], noise_hz=0.0,
                  size_px=24.0, speed_px_per_s=0.0, seed=9)
    step = np.log(synthetic._FOREGROUND / synthetic._BACKGROUND)
    plain = _onset_on_counts(SyntheticCamera(**params))
    covered = plain == int(step / 0.2)  # partly covered pixels step less
    assert covered.sum() > 200
    cam = SyntheticCamera(threshold_mismatch=0.1, **params)  # same seed: same square, same place
    counts = _onset_on_counts(cam)
    th = cam.scene.thresholds
    assert abs(th.mean() / 0.2 - 1) < 0.02 and abs(th.std() / 0.2 - 0.1) < 0.02
    expected = np.floor(step / th[covered] + 1e-9)
    assert np.mean(counts[covered] == expected) > 0.97
    assert len(np.unique(counts[covered])) >= 3
