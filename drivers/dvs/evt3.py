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

from .bounds import drop_off_sensor

EVT_ADDR_Y, EVT_ADDR_X, VECT_BASE_X, VECT_12, VECT_8 = 0x0, 0x2, 0x3, 0x4, 0x5
EVT_TIME_LOW, EVT_TIME_HIGH, EXT_TRIGGER = 0x6, 0x8, 0xA

# state slots
S_STARTED, S_Y, S_CD, S_BASE, S_LOW, S_HIGH, S_LOOP, S_DROPPED = range(8)
STATE_SIZE = 8
MAX_PER_WORD = 32  # VECT_12, VECT_12, VECT_8 decoded together
# log2 of a power of two below 2**32 from a de Bruijn product: the next pixel of a vector
DEBRUIJN = np.zeros(32, np.int64)
for _k in range(32):
    DEBRUIJN[(((1 << _k) * 0x077CB531) & 0xFFFFFFFF) >> 27] = _k
# ADDR_Y, ADDR_X, VECT_BASE_X, TIME_LOW: the types decoded without a branch
COMMON = (1 << EVT_ADDR_Y) | (1 << EVT_ADDR_X) | (1 << VECT_BASE_X) | (1 << EVT_TIME_LOW)


def new_state() -> np.ndarray:
    s = np.zeros(STATE_SIZE, np.int64)
    s[S_Y] = 1 << 12  # no ADDR_Y yet (and S_CD 0): no X word is an event
    return s


@njit(cache=True, nogil=True)
def decode(words, state, width, height, ev, tr):
    """Decode from words[0] into the EVENT_DTYPE array `ev` and TRIGGER_DTYPE array `tr`;
    stop early when either is nearly full.

    Returns (words consumed, events written, triggers written). ADDR_X, ADDR_Y, TIME_LOW
    and VECT_BASE_X (nearly all words of a recording) are decoded without branches: the
    candidate event is always stored and only counted when the word is an ADDR_X in a CD
    row, as the type of the next word is too random for branch prediction."""
    n = 0
    m = 0
    cap = ev.shape[0] - MAX_PER_WORD
    tcap = tr.shape[0]
    nw = words.shape[0]
    started = state[S_STARTED]
    y = state[S_Y]
    cd = state[S_CD]
    base = state[S_BASE]
    high = state[S_HIGH]
    loop = state[S_LOOP]
    t = (loop << 24) | (high << 12) | state[S_LOW]
    i = 0
    if started == 0:  # words before the first TIME_HIGH have no time: skipped
        while i < nw and (words[i] >> 12) != EVT_TIME_HIGH:
            i += 1
        if i < nw:
            started = 1
            high = np.int64(words[i] & 0xFFF)
            t = (loop << 24) | (high << 12)
            i += 1
    # events off the sensor (x >= width; y >= height, which includes the other camera's
    # rows of a stereo pair) are removed after the loop
    off = 0
    while i < nw and n <= cap and m < tcap:
        # a run of common words: each adds at most one event, so the run needs no
        # capacity check of its own
        end = min(nw, i + cap + 1 - n)
        stop = end
        for j in range(i, end):
            w = np.int64(words[np.uintp(j)])
            typ = w >> 12
            if not (COMMON >> typ) & 1:
                stop = j
                break
            c = w & 0xFFF
            x = c & 0x7FF
            e = ev[np.uintp(n)]
            e.x = x
            e.y = y
            e.p = c >> 11
            e.t = t
            isx = np.int64(typ == EVT_ADDR_X) & cd
            n += isx
            off |= (np.int64(x >= width) | np.int64(y >= height)) & isx
            isy = typ == EVT_ADDR_Y
            y = c if isy else y
            cd = 1 if isy else cd
            t = ((t >> 12) << 12) | c if typ == EVT_TIME_LOW else t
            base = c if typ == VECT_BASE_X else base
        i = stop
        if stop == end:
            continue
        # any other word, one at a time
        w = np.int64(words[np.uintp(i)])
        i += 1
        typ = w >> 12
        c = w & 0xFFF
        if typ == VECT_12 or typ == VECT_8:
            if typ == VECT_12:
                nb = 12
                bits = c
                # sensors send vectors as VECT_12, VECT_12, VECT_8: 32 pixels at once
                if i + 1 < nw and (words[i] >> 12) == VECT_12 and (words[i + 1] >> 12) == VECT_8:
                    bits |= (np.int64(words[i]) & 0xFFF) << 12 | (np.int64(words[i + 1]) & 0xFF) << 24
                    nb = 32
                    i += 2
            else:
                nb = 8
                bits = c & 0xFF
            if cd:
                x0 = base & 0x7FF
                p = (base >> 11) & 1
                while bits:
                    low = bits & -bits
                    bits ^= low
                    xk = x0 + DEBRUIJN[((low * 0x077CB531) & 0xFFFFFFFF) >> 27]
                    e = ev[np.uintp(n)]
                    e.x = xk
                    e.y = y
                    e.p = p
                    e.t = t
                    n += 1
                    off |= np.int64(xk >= width) | np.int64(y >= height)
            base = (base & 0x800) | ((base & 0x7FF) + nb)
        elif typ == EVT_TIME_HIGH:
            # a step back by half the range or more is a wrap of the 24-bit time base;
            # a new TIME_HIGH zeroes TIME_LOW until the next TIME_LOW word
            if high >= 2048 + c:
                loop += 1
            t = (loop << 24) | (c << 12) | (t & 0xFFF if high == c else 0)
            high = c
        elif typ == EXT_TRIGGER:
            r = tr[m]
            r.t = t
            r.id = (c >> 8) & 0xF
            r.p = c & 1
            m += 1
        elif typ == 1:  # y of a non-CD event: the X and vector words after it are not CD
            y = c
            cd = 0
        # 0x7, 0x9, 0xB-0xF: continuations, IMU, system words: nothing to emit
    state[S_STARTED] = started
    state[S_Y] = y
    state[S_CD] = cd
    state[S_BASE] = base
    state[S_LOW] = t & 0xFFF
    state[S_HIGH] = high
    state[S_LOOP] = loop
    if off:
        n, dropped = drop_off_sensor(ev, n, width, height)
        state[S_DROPPED] += dropped
    return i, n, m


@njit(cache=True, nogil=True)
def sync_point(words, start):
    """The first TIME_HIGH at or after `start` from which decoding needs nothing of the
    words before it but the count of time wraps: a TIME_LOW and a y word come before any
    event or trigger, and a VECT_BASE_X before any vector. -1 when there is none."""
    nw = words.shape[0]
    i = start
    while i < nw:
        if (words[i] >> 12) != EVT_TIME_HIGH:
            i += 1
            continue
        low = False
        yw = False
        base = False
        j = i + 1
        while j < nw:
            typ = words[j] >> 12
            if typ == EVT_TIME_LOW:
                low = True
            elif typ == EVT_ADDR_Y or typ == 1:
                yw = True
            elif typ == VECT_BASE_X:
                base = True
            elif typ == EVT_ADDR_X or typ == EXT_TRIGGER or typ == VECT_12 or typ == VECT_8:
                if not (low and yw) or (typ >= VECT_12 and typ <= VECT_8 and not base):
                    break
            elif typ == EVT_TIME_HIGH:
                break
            if low and yw and base:
                return i
            j += 1
        if j == nw and low and yw:
            return i  # no vector up to the end
        i = j if j > i + 1 else i + 1
    return -1


def start_state(words, p: int, loop: int) -> np.ndarray:
    """The state to decode from sync point `p` with: started, under that TIME_HIGH, with
    `loop` wraps (corrected afterwards if the words before p held another wrap)."""
    s = new_state()
    s[S_STARTED] = 1
    s[S_HIGH] = int(words[p]) & 0xFFF
    s[S_LOOP] = loop
    return s


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
