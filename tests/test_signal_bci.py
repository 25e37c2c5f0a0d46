"""Offline BCI baselines: the pseudo-online epochs equal offline processing; LDA figures."""
import mne
import numpy as np
import pytest
import scipy.signal

from nodes.signal.filter import design
from tools.bci.motor_imagery import band_features, cross_validate, lda_fit, stream_epochs
from tests.conftest import need


def test_streamed_epochs_equal_offline_filter_car_and_mne_epochs(shared_data):
    path = need(shared_data / "eeg" / "S001R04.edf")
    ep, labels, names, sfreq = stream_epochs(path, tmin_s=0.5, tmax_s=4.0)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    sos = design("bandpass", 160.0, 7.0, 32.0, 4, None, 30.0, "butter")
    y = scipy.signal.sosfilt(sos, raw.get_data().astype(np.float32).astype(np.float64), axis=1)
    raw._data = y - y.mean(axis=0)
    events, ids = mne.events_from_annotations(raw, event_id={"T1": 1, "T2": 2}, verbose="error")
    want = mne.Epochs(raw, events, ids, tmin=0.5, tmax=4.0 - 1 / 160, baseline=None, preload=True, verbose="error")
    assert sfreq == 160.0 and names[:3] == ["Fc5", "Fc3", "Fc1"]
    assert labels == ["T1" if c == 1 else "T2" for c in events[:, 2]]
    np.testing.assert_allclose(ep, want.get_data(), rtol=1e-4, atol=1e-3 * np.abs(want.get_data()).max())
    f = band_features(ep, sfreq, names)
    assert f.shape == (len(labels), 6) and np.isfinite(f).all()
    with pytest.raises(ValueError, match=r"channels \['C9'\] not in the recording"):
        band_features(ep, sfreq, names, ["C9"])


def test_lda_separates_gaussians_and_stays_at_chance_on_shuffled_labels():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    x = rng.normal(size=(120, 4)) + np.outer(y, [1.5, 0, 0, 1.5])
    assert cross_validate(x, y).mean() > 0.85
    assert abs(np.mean([cross_validate(x, rng.permutation(y), seed=s).mean() for s in range(10)]) - 0.5) < 0.12
    # Equal class covariances: the direction is the textbook Sigma^-1 (m1 - m0).
    w, b = lda_fit(x, y, shrinkage=0.0)
    m0, m1 = x[y == 0].mean(0), x[y == 1].mean(0)
    cov = (np.cov(x[y == 0].T) * 59 + np.cov(x[y == 1].T) * 59) / 118
    np.testing.assert_allclose(w, np.linalg.solve(cov, m1 - m0), rtol=1e-10)
