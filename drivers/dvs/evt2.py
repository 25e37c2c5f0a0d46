"""Prophesee EVT 2.0 (32-bit words) decoded with OpenEB's rules.

CD_OFF/CD_ON words carry x, y and the 6 low bits of time; TIME_HIGH the 28 high bits, so
time is 34 bits, and a TIME_HIGH far behind the last one is a wrap of that range.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bounds import drop_off_sensor

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
def decode(words, state, width, height, ev, tr):
    """Decode into the EVENT_DTYPE array `ev` and TRIGGER_DTYPE array `tr`.

    Returns (words consumed, events written, triggers written). The event of every word is
    stored and counted, then taken back when the word is not a CD event."""
    n = 0
    m = 0
    cap = ev.shape[0]
    tcap = tr.shape[0]
    nw = words.shape[0]
    started = state[S_STARTED]
    base = state[S_BASE]
    shift = state[S_SHIFT]
    off = 0  # any event off the sensor
    i = 0
    if started == 0:  # words before the first TIME_HIGH have no time: skipped
        while i < nw and (words[i] >> 28) != EVT_TIME_HIGH:
            i += 1
        if i < nw:
            started = 1
            base = (np.int64(words[i]) & 0x0FFFFFFF) << 6
            i += 1
    while i < nw and n < cap and m < tcap:
        # each word adds at most one event: no capacity check inside the loop
        end = min(nw, i + cap - n)
        stop = end
        for j in range(i, end):
            w = np.int64(words[np.uintp(j)])
            typ = w >> 28
            x = (w >> 11) & 0x7FF
            yy = w & 0x7FF
            e = ev[np.uintp(n)]
            e.x = x
            e.y = yy
            e.p = typ
            e.t = base + ((w >> 22) & 0x3F)
            # counted as a CD event, and taken back on the rare other words: the next
            # store's index then does not wait for this word's type
            n += 1
            off_before = off
            off |= np.int64(x >= width) | np.int64(yy >= height)
            if typ <= CD_ON:
                continue
            n -= 1
            off = off_before
            if typ == EVT_TIME_HIGH:
                # a TIME_HIGH far behind the last one is a wrap of the 34-bit time
                th = ((w & 0x0FFFFFFF) << 6) + shift
                if th < base and base - th >= MAX_TIMESTAMP - LOOP_THRESHOLD:
                    shift += TIME_LOOP
                    th += TIME_LOOP
                base = th
            elif typ == EXT_TRIGGER:
                r = tr[m]
                r.t = base + ((w >> 22) & 0x3F)
                r.id = (w >> 8) & 0x1F
                r.p = w & 1
                m += 1
                if m == tcap:
                    stop = j + 1
                    break
            # other types (0xE system words, 0xF continuations): nothing to emit
        i = stop
    state[S_STARTED] = started
    state[S_BASE] = base
    state[S_SHIFT] = shift
    if off:
        n, dropped = drop_off_sensor(ev, n, width, height)
        state[S_DROPPED] += dropped
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
