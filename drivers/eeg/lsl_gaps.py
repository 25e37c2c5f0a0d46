"""Samples missing from a regular LSL stream, seen in its per-sample timestamps.

Each received sample's stamp minus where the nominal rate puts it (first stamp + index /
rate) is its offset. A lost sample (an overflowing inlet or outlet buffer dropped its
oldest, a reconnection) raises the offset of all later samples by one period for good.
Senders that stamp each chunk with the time they push it (LSL spaces a chunk's samples at
the nominal rate) raise it for a while only: a late chunk, then one on time. So the
offset's minimum is taken over windows of `settle_s` of samples; a window whose minimum
lies higher than the previous one's by half a period or more, and by more than half the
previous window's jitter (its offset's spread), counts that rise as missing samples.
Clock drift raises the minimum by far less than half a period a window and is followed.
"""
from __future__ import annotations

import math

import numpy as np


class GapCounter:
    def __init__(self, sfreq: float, settle_s: float = 1.0) -> None:
        self.sfreq = sfreq
        self.period = 1.0 / sfreq
        self.window = max(2, int(round(settle_s * sfreq)))
        self.t0: float | None = None
        self.received = 0
        self.lo, self.hi, self.filled = math.inf, -math.inf, 0   # the current window
        self.base: float | None = None     # the previous window's minimum offset
        self.tolerance = 0.5 * self.period
        self.gaps = 0
        self.missing = 0

    def update(self, ts: np.ndarray) -> tuple[int, int]:
        """Feeds the timestamps of received samples; returns the (gaps, missing samples)
        found in the windows this closed."""
        gaps0, missing0 = self.gaps, self.missing
        if self.t0 is None and ts.size:
            self.t0 = float(ts[0])
        offset = (ts - self.t0) - (self.received + np.arange(ts.size)) * self.period
        self.received += ts.size
        pos = 0
        while pos < offset.size:  # a few windows per call: a loop over windows, not samples
            seg = offset[pos:pos + self.window - self.filled]
            self.lo, self.hi = min(self.lo, float(seg.min())), max(self.hi, float(seg.max()))
            self.filled += seg.size
            pos += seg.size
            if self.filled == self.window:
                self._close()
        return self.gaps - gaps0, self.missing - missing0

    def _close(self) -> None:
        if self.base is not None:
            rise = self.lo - self.base
            if rise >= max(0.5 * self.period, self.tolerance):
                self.gaps += 1
                self.missing += int(round(rise / self.period))
        self.base = self.lo
        self.tolerance = max(0.5 * self.period, 0.5 * (self.hi - self.lo))
        self.lo, self.hi, self.filled = math.inf, -math.inf, 0

    def flush(self) -> tuple[int, int]:
        """At the end of the stream: the last, partial window is judged too."""
        gaps0, missing0 = self.gaps, self.missing
        if self.filled:
            self._close()
        return self.gaps - gaps0, self.missing - missing0
