"""eeg.synthetic: cues, determinism, and the physiology it claims (checked with SciPy)."""
import numpy as np
import scipy.signal

from drivers.eeg.synthetic import CHANNELS, SyntheticEEG, generate_trials
from streamer.testing import run


def band_power(x, sfreq, lo, hi):
    f, p = scipy.signal.welch(x, sfreq, nperseg=256, axis=-1)
    return p[..., (f >= lo) & (f <= hi)].mean(axis=-1)


def test_same_seed_same_signal_whatever_the_chunking():
    a = run(SyntheticEEG(speed=0, n_trials=3, chunk_ms=40, seed=5))
    b = run(SyntheticEEG(speed=0, n_trials=3, chunk_ms=13, seed=5))
    xa = np.concatenate([m.data for m in a["out"]], axis=1)
    xb = np.concatenate([m.data for m in b["out"]], axis=1)
    np.testing.assert_array_equal(xa, xb)
    assert xa.shape == (16, 500 + 3 * 6 * 250)  # rest, then (trial + rest) per trial
    assert [m.data["label"] for m in a["markers"]] == [m.data["label"] for m in b["markers"]]
    c = run(SyntheticEEG(speed=0, n_trials=3, seed=6))
    assert not np.array_equal(xa, np.concatenate([m.data for m in c["out"]], axis=1))


def test_cues_at_trial_onsets():
    out = run(SyntheticEEG(speed=0, n_trials=4, trial_s=3, rest_s=1, classes=["left", "right", "rest"]))
    samples = [m.data["sample"] for m in out["markers"]]
    assert samples == [250, 250 + 1000, 250 + 2000, 250 + 3000]
    for m in out["markers"]:
        assert m.data["value"] == ["left", "right", "rest"].index(m.data["label"])
        assert m.data["time"] == m.data["sample"] / 250


def test_motor_imagery_desynchronises_the_opposite_hemisphere():
    X, y, ch = generate_trials(40, seed=2)
    c3, c4 = ch.index("C3"), ch.index("C4")
    mu = band_power(X[:, [c3, c4]], 250.0, 8, 13)  # (trials, 2)
    left, right = mu[y == 0], mu[y == 1]
    # left-hand imagery: C4 weaker than C3; right-hand imagery: the reverse
    assert np.median(left[:, 1] / left[:, 0]) < 0.6
    assert np.median(right[:, 0] / right[:, 1]) < 0.6
    # a log band-power lateralisation index separates the classes
    lat = np.log(mu[:, 0]) - np.log(mu[:, 1])
    assert np.mean((lat > 0) == (y == 0)) >= 0.9


def test_ssvep_at_its_frequency_over_occipital_channels():
    X, y, ch = generate_trials(20, seed=3, classes=["ssvep_12", "ssvep_15"])
    oz = ch.index("Oz")
    p12 = band_power(X[:, oz], 250.0, 11.5, 12.5)
    p15 = band_power(X[:, oz], 250.0, 14.5, 15.5)
    assert np.all((p12 > p15) == (y == 0))


def test_unknown_class_is_named():
    import pytest
    with pytest.raises(ValueError, match="unknown class 'up'"):
        SyntheticEEG(classes=["left", "up"])
    assert len(CHANNELS) == 16
