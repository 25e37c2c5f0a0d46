"""Prophesee EVT 2.0 (32-bit words) decoded with OpenEB's rules.

CD_OFF/CD_ON words carry x, y and the 6 low bits of time; TIME_HIGH the 28 high bits, so
time is 34 bits, and a TIME_HIGH far behind the last one is a wrap of that range.
"""
from __future__ import annotations

import numpy as np
from numba import njit

CD_OFF, CD_ON, EVT_TIME_HIGH, EXT_TRIGGER = 0x0, 0x1, 0x8, 0xA
MAX_TIMESTAMP = ((1 << 28) - 1) << 6
LOOP_THRESHOLD = 10000
TIME_LOOP = MAX_TIMESTAMP + (1 << 6)

S_STARTED, S_BASE, S_SHIFT, S_DROPPED = range(4)
STATE_SIZE = 4
MAX_PER_WORD = 1


def new_state() -> np.ndarray:
    return np.zeros(STATE_SIZE, np.int64)


@njit(cache=True, nogil=True)
def decode(words, state, width, height, ex, ey, ep, et, tt, tid, tp):
    """Returns (words consumed, events written, triggers written)."""
    n = 0
    m = 0
    cap = ex.shape[0]
    tcap = tt.shape[0]
    nw = words.shape[0]
    started = state[S_STARTED]
    base = state[S_BASE]
    shift = state[S_SHIFT]
    dropped = state[S_DROPPED]
    i = 0
    while i < nw:
        if n >= cap or m >= tcap:
            break
        w = np.int64(words[i])
        typ = w >> 28
        i += 1
        if started == 0:
            if typ != EVT_TIME_HIGH:
                continue
            started = 1
            base = (w & 0x0FFFFFFF) << 6
            continue
        if typ == CD_OFF or typ == CD_ON:
            x = (w >> 11) & 0x7FF
            yy = w & 0x7FF
            if x < width and yy < height:
                ex[n] = x
                ey[n] = yy
                ep[n] = typ
                et[n] = base + ((w >> 22) & 0x3F)
                n += 1
            else:
                dropped += 1
        elif typ == EVT_TIME_HIGH:
            th = ((w & 0x0FFFFFFF) << 6) + shift
            if th < base and base - th >= MAX_TIMESTAMP - LOOP_THRESHOLD:
                shift += TIME_LOOP
                th += TIME_LOOP
            base = th
        elif typ == EXT_TRIGGER:
            tt[m] = base + ((w >> 22) & 0x3F)
            tid[m] = (w >> 8) & 0x1F
            tp[m] = w & 1
            m += 1
    state[S_STARTED] = started
    state[S_BASE] = base
    state[S_SHIFT] = shift
    state[S_DROPPED] = dropped
    return i, n, m


@njit(cache=True, nogil=True)
def encode(x, y, p, t, tt, tid, tp, out):
    """Events (and triggers), sorted by time and below 2**34 µs, as EVT 2.0 words."""
    n = 0
    high = np.int64(-1)
    i = 0
    j = 0
    ne = t.shape[0]
    nt = tt.shape[0]
    while i < ne or j < nt:
        is_trig = j < nt and (i >= ne or tt[j] <= t[i])
        ts = tt[j] if is_trig else t[i]
        if (ts >> 6) != high:
            high = ts >> 6
            out[n] = (EVT_TIME_HIGH << 28) | high
            n += 1
        if is_trig:
            out[n] = (EXT_TRIGGER << 28) | ((ts & 0x3F) << 22) | ((tid[j] & 0x1F) << 8) | (tp[j] & 1)
            n += 1
            j += 1
        else:
            out[n] = ((p[i] & 1) << 28) | ((ts & 0x3F) << 22) | (np.int64(x[i]) << 11) | y[i]
            n += 1
            i += 1
    return n
