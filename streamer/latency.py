"""Latency histograms with logarithmic bins: cheap to fill, to send and to merge."""
from __future__ import annotations

import bisect
import math

import numpy as np

# 1 µs to 100 s, 40 bins per decade (about 6% wide): percentiles within a few percent.
PER_DECADE = 40
EDGES = [10 ** (-6 + i / PER_DECADE) for i in range(8 * PER_DECADE + 1)]
NBINS = len(EDGES) + 1  # underflow and overflow included


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * NBINS

    def add(self, seconds: float) -> None:
        if seconds == seconds:  # skip NaN (no t_origin)
            self.counts[bisect.bisect_right(EDGES, seconds)] += 1

    def total(self) -> int:
        return sum(self.counts)


def percentile(counts: list[int] | np.ndarray, q: float) -> float:
    """The q-th percentile (0..100) in seconds, at the geometric centre of its bin; NaN if empty."""
    c = np.asarray(counts, dtype=np.int64)
    n = int(c.sum())
    if n == 0:
        return math.nan
    rank = max(1, math.ceil(q / 100 * n))
    i = int(np.searchsorted(np.cumsum(c), rank))
    if i == 0:
        return EDGES[0]
    if i >= len(EDGES):
        return EDGES[-1]
    return math.sqrt(EDGES[i - 1] * EDGES[i])
