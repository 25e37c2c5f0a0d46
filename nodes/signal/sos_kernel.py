"""Second-order-section IIR filtering over (channels, samples), state carried between calls."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def sosfilt_chunk(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, int]:
    """Filter x (channels, samples) with sos (sections, 6); zi (channels, sections, 2) float64
    is updated in place. Same arithmetic as scipy.signal.sosfilt (transposed direct form II).

    A non-finite input sample gives NaN at that sample and enters the state as 0, so one
    bad sample does not poison the channel for ever; returns the output and how many
    input samples were non-finite."""
    n_ch, n = x.shape
    n_sec = sos.shape[0]
    y = np.empty((n_ch, n), dtype=np.float32)
    n_bad = 0
    for c in range(n_ch):
        z = zi[c]
        for i in range(n):
            v = np.float64(x[c, i])
            bad = not np.isfinite(v)
            if bad:
                v = 0.0
                n_bad += 1
            for s in range(n_sec):
                out = sos[s, 0] * v + z[s, 0]
                z[s, 0] = sos[s, 1] * v - sos[s, 4] * out + z[s, 1]
                z[s, 1] = sos[s, 2] * v - sos[s, 5] * out
                v = out
            y[c, i] = np.nan if bad else v
    return y, n_bad
