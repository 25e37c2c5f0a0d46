"""Numba kernels of the console's views: what arrives is reduced here, in the console's
process, so that the page receives a few kilobytes per frame whatever the stream's rate."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def paint_events(frame: np.ndarray, age: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> int:
    """Mark each event's pixel in `frame` (H, W): 1 ON, 2 OFF, the last event winning, and
    make it new (age 0). Events off the frame are skipped; returns how many were painted."""
    h, w = frame.shape
    n = 0
    for i in range(x.shape[0]):
        xi, yi = x[i], y[i]
        if xi < w and yi < h:
            frame[yi, xi] = 1 if p[i] > 0 else 2
            age[yi, xi] = 0
            n += 1
    return n


@njit(cache=True, nogil=True)
def fade(frame: np.ndarray, age: np.ndarray, persist: int) -> bool:
    """One page frame later: pixels lit `persist` frames ago go dark. True if any is lit."""
    lit = False
    h, w = frame.shape
    for yi in range(h):
        for xi in range(w):
            if frame[yi, xi]:
                a = age[yi, xi] + 1
                if a >= persist:
                    frame[yi, xi] = 0
                else:
                    age[yi, xi] = a
                    lit = True
    return lit


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
