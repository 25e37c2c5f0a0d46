"""Trial onsets and input bins for the classifier nodes (nodes/snn/classifier.py).

Markers and frames travel on different edges, so a marker may arrive before or after the
bins of its trial: an onset is kept (µs, device clock) until the first bin at or after it
starts the trial, and idle bins are held a while for a marker that is late.
"""
from __future__ import annotations

import bisect

import numpy as np

from streamer.node import Rejected


class Onsets:
    """Pending trial onsets from markers: only those labelled `labels` (all when None),
    each `delay_s` after its marker's device time."""

    def __init__(self, labels: list[str] | None, delay_s: float, who: str = "") -> None:
        self.who = who
        self.labels = None if labels is None else set(labels)
        self.delay_s = delay_s
        self.pending: list[int] = []

    def wanted(self, marker: dict) -> bool:
        return self.labels is None or marker.get("label") in self.labels

    def add(self, marker: dict) -> bool:
        """Keep the marker's onset; False when it has no device time (it then acts where
        it arrives)."""
        t = marker.get("time_s", float("nan"))
        if not np.isfinite(t):
            return False
        onset_us = (t + self.delay_s) * 1e6
        if not abs(onset_us) <= MAX_TIME_US:
            raise Rejected(f"{self.who}: marker {marker.get('label')!r} at time {t:g} s is beyond any device time; "
                           "fix the stream's source")
        bisect.insort(self.pending, int(round(onset_us)))
        return True

    def due(self, t_bin: int | None) -> bool:
        return t_bin is not None and bool(self.pending) and self.pending[0] <= t_bin

    def pop_due(self, t_bin: int | None) -> bool:
        """Drop the onsets reached by this bin; True when there was one (a trial starts)."""
        started = False
        while self.due(t_bin):
            self.pending.pop(0)
            started = True
        return started


# Device times (µs) beyond ±2^62 are not a stream's; bounding them keeps bin starts in int64.
MAX_TIME_US = 1 << 62


def _meta_number(msg, key: str, who: str, positive: bool = False) -> float | None:
    """A numeric metadata field the bins' timing comes from, or None when absent; Rejected
    when it is not a finite number (positive, if asked)."""
    v = msg.meta.get(key)
    if v is None:
        return None
    if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) \
            or not abs(v) <= MAX_TIME_US or (positive and not v > 0):
        raise Rejected(f"{who}: {msg.stream} metadata {key!r} must be a {'positive ' if positive else ''}"
                       f"finite number, got {v!r}; fix the stream's source")
    return float(v) if isinstance(v, (float, np.floating)) else int(v)


def input_bins(msg, in_shape: tuple[int, ...], dt_s: float, who: str) -> tuple[np.ndarray, list, bool]:
    """Frames (bins, *in_shape) or Spikes (steps, n) as float32 bins, each bin's start (µs,
    device clock; None when the stream does not say), and whether the stream's bin width
    differs from `dt_s`. Rejected, naming `who` and the shape it needs, for bins of another
    shape, values that are not finite as float32, or timing metadata that is not a number."""
    from streamer.streams import SPIKES

    frames = msg.data
    size = int(np.prod(in_shape))
    if msg.stream == SPIKES and isinstance(frames, np.ndarray) and frames.ndim >= 1 and frames[:1].size == size:
        frames = frames.reshape((len(frames),) + tuple(in_shape))
    if not isinstance(frames, np.ndarray) or frames.shape[1:] != tuple(in_shape):
        raise Rejected(f"{who}: {msg.stream} of shape {getattr(frames, 'shape', None)} do not fit the model "
                       f"input {tuple(in_shape)}; bin to (bins, {', '.join(map(str, in_shape))})")
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond float32 become inf: refused below
        bins = np.ascontiguousarray(frames, dtype=np.float32)
    if not np.all(np.isfinite(bins)):
        raise Rejected(f"{who}: {msg.stream} hold NaN or infinite values (or values beyond float32); "
                       "the network's state would not recover from them: fix the source")
    bin_us = _meta_number(msg, "bin_us", who, positive=True)
    if msg.stream == SPIKES:
        dt = _meta_number(msg, "dt_s", who, positive=True)
        if dt:
            bin_us = dt * 1e6
    mismatch = bin_us is not None and abs(bin_us - dt_s * 1e6) > 1e-6
    step_us = float(bin_us) if bin_us else dt_s * 1e6
    t_first_us = _meta_number(msg, "t_first_us", who)
    if t_first_us is None and msg.stream == SPIKES:
        step = _meta_number(msg, "step", who)
        t_first_us = None if step is None else int(step) * step_us
    if t_first_us is not None and abs(t_first_us) + len(bins) * step_us > MAX_TIME_US:
        raise Rejected(f"{who}: {msg.stream} starting at {t_first_us:g} µs in bins of {step_us:g} µs end beyond "
                       "any device time; fix the stream's source")
    starts = [None if t_first_us is None else int(t_first_us + t * step_us) for t in range(len(bins))]
    return bins, starts, mismatch
