"""Second-order-section IIR filtering over (channels, samples), state carried between calls."""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=False)
def sosfilt_chunk(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """Filter x (channels, samples) with sos (sections, 6); zi (channels, sections, 2) float64
    is updated in place. Same arithmetic as scipy.signal.sosfilt (transposed direct form II)."""
    n_ch, n = x.shape
    n_sec = sos.shape[0]
    y = np.empty((n_ch, n), dtype=np.float32)
    for c in prange(n_ch):
        for i in range(n):
            v = np.float64(x[c, i])
            for s in range(n_sec):
                b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
                a1, a2 = sos[s, 4], sos[s, 5]
                out = b0 * v + zi[c, s, 0]
                zi[c, s, 0] = b1 * v - a1 * out + zi[c, s, 1]
                zi[c, s, 1] = b2 * v - a2 * out
                v = out
            y[c, i] = v
    return y
