"""Numba kernels of the console's views: what arrives is reduced here, in the console's
process, so that the page receives a few kilobytes per frame whatever the stream's rate."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def paint_events(frame: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> int:
    """Mark each event's pixel in `frame` (H, W): 1 ON, 2 OFF, the last event winning.
    Events off the frame are skipped; returns how many were painted."""
    h, w = frame.shape
    n = 0
    for i in range(x.shape[0]):
        xi, yi = x[i], y[i]
        if xi < w and yi < h:
            frame[yi, xi] = 1 if p[i] > 0 else 2
            n += 1
    return n


@njit(cache=True, nogil=True)
def min_max_blocks(data: np.ndarray, carry_min: np.ndarray, carry_max: np.ndarray,
                   carry_n: int, k: int, out: np.ndarray) -> tuple[int, int]:
    """Reduce (channels, samples) to (min, max) pairs per block of k samples, carrying an
    unfinished block over to the next call. Writes pairs into out (channels, 2 * blocks);
    returns (pairs written, samples in the carried block)."""
    c, n = data.shape
    written = 0
    for j in range(n):
        for ch in range(c):
            v = data[ch, j]
            if carry_n == 0 or v < carry_min[ch]:
                carry_min[ch] = v
            if carry_n == 0 or v > carry_max[ch]:
                carry_max[ch] = v
        carry_n += 1
        if carry_n == k:
            for ch in range(c):
                out[ch, 2 * written] = carry_min[ch]
                out[ch, 2 * written + 1] = carry_max[ch]
            written += 1
            carry_n = 0
    return written, carry_n
