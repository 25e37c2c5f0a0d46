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
        assert m.data["time_s"] == m.data["sample"] / 250


def test_motor_imagery_desynchronises_the_opposite_hemisphere():
    X, y, classes = generate_trials(40, seed=2)
    assert classes == ["left", "right"] and X.shape == (40, 16, 1000)
    c3, c4 = CHANNELS.index("C3"), CHANNELS.index("C4")
    mu = band_power(X[:, [c3, c4]], 250.0, 8, 13)  # (trials, 2)
    left, right = mu[y == 0], mu[y == 1]
    # left-hand imagery: C4 weaker than C3; right-hand imagery: the reverse
    assert np.median(left[:, 1] / left[:, 0]) < 0.6
    assert np.median(right[:, 0] / right[:, 1]) < 0.6
    # a log band-power lateralisation index separates the classes
    lat = np.log(mu[:, 0]) - np.log(mu[:, 1])
    assert np.mean((lat > 0) == (y == 0)) >= 0.9


def test_ssvep_at_its_frequency_over_occipital_channels():
    X, y, classes = generate_trials(20, seed=3, classes=["ssvep_12", "ssvep_15"])
    assert classes == ["ssvep_12", "ssvep_15"]
    oz = CHANNELS.index("Oz")
    p12 = band_power(X[:, oz], 250.0, 11.5, 12.5)
    p15 = band_power(X[:, oz], 250.0, 14.5, 15.5)
    assert np.all((p12 > p15) == (y == 0))


def test_unknown_class_is_named():
    import pytest
    with pytest.raises(ValueError, match="unknown class 'up'"):
        SyntheticEEG(classes=["left", "up"])
    assert len(CHANNELS) == 16


def test_channels_are_10_20_positions_known_to_mne():
    import mne
    montage = mne.channels.make_standard_montage("colin27_1005")
    assert set(CHANNELS) <= set(montage.ch_names)
    assert {"C3", "Cz", "C4", "O1", "Oz", "O2"} <= set(CHANNELS)


def test_background_is_pink_and_alpha_is_posterior():
    out = run(SyntheticEEG(speed=0, n_trials=2, classes=["rest"], seed=1))
    x = np.concatenate([m.data for m in out["out"]], axis=1).astype(np.float64)
    f, p = scipy.signal.welch(x, 250.0, nperseg=500, axis=-1)
    fz, oz = CHANNELS.index("Fz"), CHANNELS.index("Oz")
    band = (f >= 2) & (f <= 40) & ((f < 7) | (f > 13))
    slope = np.polyfit(np.log(f[band]), np.log(p[fz, band]), 1)[0]
    assert -1.5 < slope < -0.5  # 1/f power
    alpha = (f >= 9) & (f <= 11)
    assert p[oz, alpha].mean() > 5 * p[fz, alpha].mean()
    assert 2e-6 < x[fz].std() < 5e-5  # microvolt-scale, in volts


def test_real_time_pacing():
    import time
    node = SyntheticEEG(speed=1, chunk_ms=40)
    node.start()
    t0, n = time.monotonic(), 0
    while n < 75:  # 0.3 s at 250 Hz
        out = node.produce()
        if out:
            n += out["out"].data.shape[1]
    elapsed = time.monotonic() - t0
    assert 0.2 < elapsed < 0.4, elapsed


def test_generate_trials_rejects_unknown_options():
    import pytest
    with pytest.raises(TypeError, match="unknown options \\['noise'\\]"):
        generate_trials(2, noise=3)
