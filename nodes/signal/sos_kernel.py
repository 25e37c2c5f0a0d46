"""Second-order-section IIR filtering over (channels, samples), state carried between calls."""
from __future__ import annotations

import numpy as np
from numba import njit


BLOCK = 8  # channels filtered side by side: independent chains the CPU overlaps


@njit(cache=True, nogil=True)
def sosfilt_chunk(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, int]:
    """Filter x (channels, samples) with sos (sections, 6); zi (channels, sections, 2) float64
    is updated in place. Same arithmetic as scipy.signal.sosfilt (transposed direct form II),
    channel by channel; channels go through in blocks, a sample of each at a time, because
    one channel's sections form a chain of dependent multiply-adds that leaves the core idle
    while a block of channels keeps it busy.

    A non-finite input sample gives NaN at that sample and enters the state as 0, so one
    bad sample does not poison the channel for ever; returns the output and how many
    input samples were non-finite."""
    n_ch, n = x.shape
    n_sec = sos.shape[0]
    y = np.empty((n_ch, n), dtype=np.float32)
    n_bad = 0
    z0 = np.empty((n_sec, BLOCK))
    z1 = np.empty((n_sec, BLOCK))
    v = np.empty(BLOCK)
    bad = np.zeros(BLOCK, np.bool_)
    for c0 in range(0, n_ch, BLOCK):
        m = min(BLOCK, n_ch - c0)
        for s in range(n_sec):
            for k in range(m):
                z0[s, k] = zi[c0 + k, s, 0]
                z1[s, k] = zi[c0 + k, s, 1]
        for i in range(n):
            for k in range(m):
                w = np.float64(x[c0 + k, i])
                bad[k] = not np.isfinite(w)
                if bad[k]:
                    w = 0.0
                    n_bad += 1
                v[k] = w
            for s in range(n_sec):
                b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
                for k in range(m):
                    out = b0 * v[k] + z0[s, k]
                    z0[s, k] = b1 * v[k] - a1 * out + z1[s, k]
                    z1[s, k] = b2 * v[k] - a2 * out
                    v[k] = out
            for k in range(m):
                y[c0 + k, i] = np.nan if bad[k] else v[k]
        for s in range(n_sec):
            for k in range(m):
                zi[c0 + k, s, 0] = z0[s, k]
                zi[c0 + k, s, 1] = z1[s, k]
    return y, n_bad
