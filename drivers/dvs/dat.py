"""Prophesee DAT files of CD events: a `%` header, one byte of event type and one of event
size (8), then 8-byte events: a 32-bit timestamp (µs) and a 32-bit word with x in bits
0-13, y in bits 14-27 and polarity in bits 28-31."""
from __future__ import annotations

import numpy as np
from numba import njit

EVENT_SIZE = 8
CD_TYPES = (0x00, 0x0C)  # Event2d and EventCD
S_DROPPED = 0
STATE_SIZE = 1
MAX_PER_WORD = 1
# Gen1 ATIS, the sensor of the DAT-era recordings, when the header gives no size.
DEFAULT_WIDTH, DEFAULT_HEIGHT = 304, 240


def new_state() -> np.ndarray:
    return np.zeros(STATE_SIZE, np.int64)


@njit(cache=True, nogil=True)
def decode(words, state, width, height, ex, ey, ep, et, tt, tid, tp):
    """`words` are uint32 pairs (timestamp, address). Returns (words consumed, events, 0)."""
    npairs = words.shape[0] // 2
    k = min(npairs, ex.shape[0])
    n = 0
    dropped = state[S_DROPPED]
    for j in range(k):
        a = np.int64(words[2 * j + 1])
        x = a & 0x3FFF
        y = (a >> 14) & 0x3FFF
        if x < width and y < height:
            ex[n] = x
            ey[n] = y
            ep[n] = 1 if (a >> 28) & 0xF else 0
            et[n] = np.int64(words[2 * j])
            n += 1
        else:
            dropped += 1
    state[S_DROPPED] = dropped
    return 2 * k, n, 0
