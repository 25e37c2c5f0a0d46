"""Prophesee EVT 2.1 (64-bit words) decoded with OpenEB's rules.

EVT_POS/EVT_NEG words give a row y, a base x aligned to 32 and a 32-bit mask of the
pixels x..x+31 that fired, with the 6 low bits of time; TIME_HIGH gives the 28 high bits.
The legacy layout (header `format EVT21;endianness=legacy`) has the two 32-bit halves
swapped; `legacy` swaps them back before decoding.
"""
from __future__ import annotations

import numpy as np
from numba import njit

EVT_NEG, EVT_POS, EVT_TIME_HIGH, EXT_TRIGGER = 0x0, 0x1, 0x8, 0xA
MAX_TIME_HIGH = ((1 << 28) - 1) << 6
HIGH_MASK = ((1 << 28) - 1) << 6

S_STARTED, S_LAST, S_DROPPED = range(3)
STATE_SIZE = 3
MAX_PER_WORD = 32


def new_state() -> np.ndarray:
    return np.zeros(STATE_SIZE, np.int64)


@njit(cache=True, nogil=True)
def _set_high(last, th):
    last_high = last & HIGH_MASK
    loops = last >> 34
    if th < last_high and last_high - th >= MAX_TIME_HIGH:
        loops += 1
    if th != last_high:
        return (th & HIGH_MASK) | (loops << 34)
    return last


@njit(cache=True, nogil=True)
def decode(words, state, width, height, legacy, ev, tr):
    """Returns (words consumed, events written, triggers written)."""
    n = 0
    m = 0
    cap = ev.shape[0] - MAX_PER_WORD
    tcap = tr.shape[0]
    nw = words.shape[0]
    started = state[S_STARTED]
    last = state[S_LAST]
    dropped = state[S_DROPPED]
    i = 0
    while i < nw:
        if n > cap or m >= tcap:
            break
        w = np.uint64(words[np.uintp(i)])
        if legacy:
            w = (w << np.uint64(32)) | (w >> np.uint64(32))
        hi = np.int64(w >> np.uint64(32))
        lo = np.int64(w & np.uint64(0xFFFFFFFF))
        typ = hi >> 28
        i += 1
        if started == 0:
            if typ != EVT_TIME_HIGH:
                continue
            started = 1
            last = (hi & 0x0FFFFFFF) << 6
            continue
        if typ == EVT_POS or typ == EVT_NEG:
            last = (last & ~np.int64(0x3F)) + ((hi >> 22) & 0x3F)
            x0 = (hi >> 11) & 0x7FF
            yy = hi & 0x7FF
            bits = lo
            while bits:
                k = 0
                while not (bits >> k) & 1:
                    k += 1
                bits &= bits - 1
                x = x0 + k
                e = ev[np.uintp(n)]
                e.x = x
                e.y = yy
                e.p = typ
                e.t = last
                ok = ((x - width) >> 63) & ((yy - height) >> 63) & 1
                n += ok
                dropped += 1 - ok
        elif typ == EVT_TIME_HIGH:
            last = _set_high(last, (hi & 0x0FFFFFFF) << 6)
        elif typ == EXT_TRIGGER:
            last = (last & ~np.int64(0x3F)) + ((hi >> 22) & 0x3F)
            r = tr[m]
            r.t = last
            r.id = (hi >> 8) & 0x1F
            r.p = hi & 1
            m += 1
    state[S_STARTED] = started
    state[S_LAST] = last
    state[S_DROPPED] = dropped
    return i, n, m
