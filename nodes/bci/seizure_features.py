"""Line length and band power per channel, a running baseline of the patient's own
recent normal signal, and the rule that turns scores against it into seizure windows and
alarms, for seizure detection in ECoG/sEEG windows."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

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


class RunningBaseline:
    """Each channel's features against the patient's own recent normal signal: a window's
    score is the mean over channels and features of log10(feature / the median of that
    feature over the last `size` windows judged normal). Gain and slow drift of the
    recording divide out; a seizure's windows stay out of the baseline, so a long seizure
    does not become the norm."""

    def __init__(self, size: int) -> None:
        self.windows: deque[np.ndarray] = deque(maxlen=size)
        self._median: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        return len(self.windows) == self.windows.maxlen

    def add(self, features: np.ndarray) -> None:
        self.windows.append(features)
        self._median = None

    def reset(self, windows: list[np.ndarray]) -> None:
        """Start again from these windows (the level of the signal has changed for good)."""
        self.windows.clear()
        self.windows.extend(windows)
        self._median = None

    def median(self) -> np.ndarray:
        if self._median is None:
            self._median = np.median(np.stack(self.windows), axis=0)
        return self._median

    def score(self, features: np.ndarray) -> float:
        return float((features - self.median()).mean())


@dataclass
class Judgement:
    score: float
    seizure: bool  # this window is judged ictal
    alarm: bool  # ... and raises an alarm (none for `refractory_s` after the last one)


class SeizureRule:
    """The detector's state between windows: a running baseline, the threshold on the
    score, and the alarm rule. Features (channels, features) of log10 values go in, in
    recording order, each with its start time in seconds.

    - the first `baseline_windows` windows only fill the baseline;
    - a window is ictal when its score passes `threshold` (when None: the `quantile` of the
      first windows' scores against their own median, for a patient without recorded
      seizures); windows judged normal join the baseline;
    - an ictal window raises an alarm unless one was raised less than `refractory_s` ago;
    - windows judged ictal for longer than `max_seizure_s` mean the signal's level has
      changed for good (a new gain, a moved contact): the baseline restarts from them.
    """

    def __init__(self, baseline_windows: int = 30, threshold: float | None = None, quantile: float = 1.0,
                 refractory_s: float = 30.0, max_seizure_s: float = 300.0) -> None:
        self.baseline = RunningBaseline(baseline_windows)
        self.threshold, self.quantile = threshold, quantile
        self.refractory_s, self.max_seizure_s = refractory_s, max_seizure_s
        self.last_alarm_s = -np.inf
        self.ictal_since_s: float | None = None
        self.ictal_run: deque[np.ndarray] = deque(maxlen=baseline_windows)

    @property
    def calibrated(self) -> bool:
        return self.baseline.ready

    def calibrate(self, features: np.ndarray) -> None:
        """One window of normal signal towards the first baseline."""
        self.baseline.add(features)
        if self.baseline.ready and self.threshold is None:
            scores = [self.baseline.score(f) for f in self.baseline.windows]
            self.threshold = float(np.quantile(scores, self.quantile))

    def judge(self, features: np.ndarray, t_s: float) -> Judgement:
        score = self.baseline.score(features)
        seizure = score > self.threshold
        alarm = seizure and t_s - self.last_alarm_s >= self.refractory_s
        if alarm:
            self.last_alarm_s = t_s
        if not seizure:
            self.baseline.add(features)
            self.ictal_since_s = None
            self.ictal_run.clear()
        else:
            self.ictal_run.append(features)
            if self.ictal_since_s is None:
                self.ictal_since_s = t_s
            elif t_s - self.ictal_since_s >= self.max_seizure_s:
                self.baseline.reset(list(self.ictal_run))
                self.ictal_since_s = None
                self.ictal_run.clear()
        return Judgement(score, bool(seizure), bool(alarm))
