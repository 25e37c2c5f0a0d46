"""Line length and band power per channel, and a detector calibrated on normal signal
alone (z-scores against it), for seizure detection in ECoG/sEEG windows."""
from __future__ import annotations

import numpy as np
from numba import njit

from nodes.signal.bandpower import WelchBands

BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 70.0),
         "high_gamma": (70.0, 180.0)}


@njit(cache=True, nogil=True)
def line_length(x: np.ndarray) -> np.ndarray:
    """Mean absolute difference between consecutive samples, per channel (Esteller's feature)."""
    n_ch, n = x.shape
    out = np.zeros(n_ch)
    for c in range(n_ch):
        acc = 0.0
        for i in range(1, n):
            acc += abs(np.float64(x[c, i]) - np.float64(x[c, i - 1]))
        out[c] = acc / max(1, n - 1)
    return out


def window_features(x: np.ndarray, fs: float, segment_s: float = 0.5,
                    bands: dict[str, tuple[float, float]] = BANDS, who: str = "window_features") -> np.ndarray:
    """(channels, 1 + bands): log line length and log band powers of one window (errors
    name `who`)."""
    welch = WelchBands(bands, fs, min(x.shape[1], max(2, round(segment_s * fs))), segment_s * 1e3, who)
    with np.errstate(divide="ignore", invalid="ignore"):  # a flat channel: -inf, for the caller to refuse
        return np.log10(np.column_stack([line_length(np.ascontiguousarray(x)), welch(x)]))


class Detector:
    """z-scores of the features against normal calibration windows; a window's score is
    the mean over channels and features; alarm above the `quantile` of calibration scores."""

    def __init__(self, calibration: np.ndarray, quantile: float = 0.99) -> None:
        self.mean = calibration.mean(axis=0)
        self.std = calibration.std(axis=0) + 1e-12
        calib_scores = self.scores(calibration)
        self.threshold = float(np.quantile(calib_scores, quantile))
        self.spread = float(calib_scores.std()) + 1e-12

    def scores(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std).mean(axis=(-2, -1))

    def alarms(self, features: np.ndarray) -> np.ndarray:
        return self.scores(features) > self.threshold
