"""Prophesee DAT files of CD events: a `%` header, one byte of event type and one of event
size (8), then 8-byte events: a 32-bit timestamp (µs) and a 32-bit word with x in bits
0-13, y in bits 14-27 and polarity in bits 28-31."""
from __future__ import annotations

import numpy as np
from numba import njit

from .bounds import drop_off_sensor

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
def decode(words, state, width, height, ev, tr):
    """`words` are uint32 pairs (timestamp, address). Returns (words consumed, events, 0)."""
    k = min(words.shape[0] // 2, ev.shape[0])
    off = 0
    for j in range(k):
        a = np.int64(words[np.uintp(2 * j + 1)])
        x = a & 0x3FFF
        y = (a >> 14) & 0x3FFF
        e = ev[np.uintp(j)]
        e.x = x
        e.y = y
        e.p = np.int64((a >> 28) != 0)
        e.t = np.int64(words[np.uintp(2 * j)])
        off |= np.int64(x >= width) | np.int64(y >= height)
    n = k
    if off:
        n, dropped = drop_off_sensor(ev, k, width, height)
        state[S_DROPPED] += dropped
    return 2 * k, n, 0
