"""Prophesee EVT 3.0 (16-bit words) decoded with OpenEB's rules.

A word is 4 bits of type and 12 of content. The decoder keeps a state (y, vector base x
and polarity, time low/high) that later words refer to. Time is 24 bits (12 high, 12 low)
with wraps counted when TIME_HIGH steps back by half its range or more; a TIME_LOW that
steps back under one TIME_HIGH is a sensor artefact, not a wrap. Words before the first
TIME_HIGH are skipped, as are padding and system words.
"""
from __future__ import annotations

import numpy as np
from numba import njit

EVT_ADDR_Y, EVT_ADDR_X, VECT_BASE_X, VECT_12, VECT_8 = 0x0, 0x2, 0x3, 0x4, 0x5
EVT_TIME_LOW, EVT_TIME_HIGH, EXT_TRIGGER = 0x6, 0x8, 0xA

# state slots
S_STARTED, S_Y, S_CD, S_BASE, S_LOW, S_HIGH, S_LOOP, S_DROPPED = range(8)
STATE_SIZE = 8
MAX_PER_WORD = 12  # a VECT_12 word


def new_state() -> np.ndarray:
    s = np.zeros(STATE_SIZE, np.int64)
    s[S_Y] = 1 << 12  # no ADDR_Y yet: nothing is valid
    return s


@njit(cache=True, nogil=True)
def decode(words, state, width, height, ex, ey, ep, et, tt, tid, tp):
    """Decode from words[0]; stop early when the outputs are nearly full.

    Returns (words consumed, events written, triggers written)."""
    n = 0
    m = 0
    cap = ex.shape[0] - MAX_PER_WORD
    tcap = tt.shape[0]
    nw = words.shape[0]
    started = state[S_STARTED]
    y = state[S_Y]
    cd = state[S_CD]
    base = state[S_BASE]
    low = state[S_LOW]
    high = state[S_HIGH]
    loop = state[S_LOOP]
    dropped = state[S_DROPPED]
    i = 0
    while i < nw:
        if n > cap or m >= tcap:
            break
        w = np.int64(words[i])
        typ = w >> 12
        c = w & 0xFFF
        i += 1
        if started == 0:
            if typ != EVT_TIME_HIGH:
                continue
            started = 1
            high = c - 1 if c > 0 else 0
        t = (loop << 24) | (high << 12) | low
        valid = cd == 1 and y < height
        if typ == EVT_ADDR_X:
            if valid:
                x = c & 0x7FF
                if x < width:
                    ex[n] = x
                    ey[n] = y
                    ep[n] = c >> 11
                    et[n] = t
                    n += 1
                else:
                    dropped += 1
        elif typ == VECT_12 or typ == VECT_8:
            nb = 12 if typ == VECT_12 else 8
            if valid:
                bits = c & ((1 << nb) - 1)
                x0 = base & 0x7FF
                p = (base >> 11) & 1
                while bits:
                    k = 0
                    while not (bits >> k) & 1:
                        k += 1
                    bits &= bits - 1
                    x = x0 + k
                    if x < width:
                        ex[n] = x
                        ey[n] = y
                        ep[n] = p
                        et[n] = t
                        n += 1
                    else:
                        dropped += 1
            base = (base & 0x800) | ((base & 0x7FF) + nb)
        elif typ == EVT_TIME_HIGH:
            if high >= 2048 + c:
                loop += 1
            if high != c:
                low = 0
            high = c
        elif typ == EXT_TRIGGER:
            tt[m] = t
            tid[m] = (c >> 8) & 0xF
            tp[m] = c & 1
            m += 1
        elif typ == EVT_TIME_LOW:
            low = c
        elif typ == VECT_BASE_X:
            base = c
        elif typ == EVT_ADDR_Y:
            y = c
            cd = 1
        elif typ == 1:
            y = c
            cd = 0
        # 0x7, 0x9, 0xB-0xF: continuations, IMU, system words: nothing to emit
    state[S_STARTED] = started
    state[S_Y] = y
    state[S_CD] = cd
    state[S_BASE] = base
    state[S_LOW] = low
    state[S_HIGH] = high
    state[S_LOOP] = loop
    state[S_DROPPED] = dropped
    return i, n, m


@njit(cache=True, nogil=True)
def encode(x, y, p, t, tt, tid, tp, width, out):
    """Events (and triggers), sorted by time, as EVT 3.0 words; returns how many.

    TIME_HIGH advances in steps of at most 1024 so that a decoder counts every wrap of the
    24-bit time base, starting from 0 (the decoder starts there too). Consecutive events
    of one time, row and polarity with increasing x become VECT_BASE_X + VECT_12 words
    where that takes fewer words than one ADDR_X each; the decoder expands a vector in
    increasing x, so the order of the events is kept."""
    n = 0
    full_high = np.int64(0)
    out[n] = (EVT_TIME_HIGH << 12)
    n += 1
    low = np.int64(-1)
    cur_y = np.int64(-1)
    base = np.int64(-1)  # the decoder's vector base (polarity << 11 | x)
    i = 0
    j = 0
    ne = t.shape[0]
    nt = tt.shape[0]
    while i < ne or j < nt:
        is_trig = j < nt and (i >= ne or tt[j] <= t[i])
        ts = tt[j] if is_trig else t[i]
        th = ts >> 12
        while th - full_high > 1024:
            full_high += 1024
            out[n] = (EVT_TIME_HIGH << 12) | (full_high & 0xFFF)
            n += 1
            low = -1
        if th != full_high:
            full_high = th
            out[n] = (EVT_TIME_HIGH << 12) | (full_high & 0xFFF)
            n += 1
            low = -1
        if (ts & 0xFFF) != low:
            low = ts & 0xFFF
            out[n] = (EVT_TIME_LOW << 12) | low
            n += 1
        if is_trig:
            out[n] = (EXT_TRIGGER << 12) | ((tid[j] & 0xF) << 8) | (tp[j] & 1)
            n += 1
            j += 1
            continue
        if y[i] != cur_y:
            cur_y = y[i]
            out[n] = (EVT_ADDR_Y << 12) | cur_y
            n += 1
        xi = np.int64(x[i])
        pi = np.int64(p[i] & 1)
        e = i + 1
        mask = np.int64(1)
        if xi + 12 <= width:
            while (e < ne and t[e] == ts and y[e] == cur_y and (p[e] & 1) == pi
                   and x[e] > x[e - 1] and x[e] < xi + 12):
                mask |= np.int64(1) << (np.int64(x[e]) - xi)
                e += 1
        need_base = 1 if base != ((pi << 11) | xi) else 0
        if e - i > 1 + need_base:
            if need_base:
                out[n] = (VECT_BASE_X << 12) | (pi << 11) | xi
                n += 1
            out[n] = (VECT_12 << 12) | mask
            n += 1
            base = (pi << 11) | (xi + 12)
            i = e
        else:
            out[n] = (EVT_ADDR_X << 12) | (pi << 11) | xi
            n += 1
            i += 1
    return n
