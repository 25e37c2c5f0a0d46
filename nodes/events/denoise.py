"""Background-activity filter: an event is kept when one of its 8 neighbours fired
within the last `window_us` (the rule of dv-processing's BackgroundActivityNoiseFilter)."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.recycle import Recycler
from streamer.streams import EVENT_DTYPE, Message

from .base import EventTransform, OffSensor, check_events, check_sensor, rows

# Each pixel's latest time is kept as int32 µs from `base`: the map of a 1280 x 720 sensor
# (3.7 MB) then fits the L2 cache where int64 times (7.4 MB) did not, and the filter's
# random neighbour reads are twice as fast. Times stay within SPAN of base; an event
# further away moves base (rebase), which changes no decision while the window is
# shorter than SPAN (the Params bound): a neighbour pushed to NEVER was older than that.
NEVER = np.iinfo(np.int32).min  # a pixel that has not fired
SPAN = 1 << 30
MAX_WINDOW_US = SPAN


@njit(cache=True, nogil=True)
def background_activity(x: np.ndarray, y: np.ndarray, t: np.ndarray, src: np.ndarray,
                        last: np.ndarray, base: int, window_us: int, dst: np.ndarray) -> tuple[int, int]:
    """Copy to dst (rows) the events (rows of src) that some 8-neighbour supports: it
    fired less than window_us before. Returns (events read, events in dst): it stops at
    the end, or at an event more than SPAN from `base` (then rebase and call again on
    the rest); (-1 - i, 0) if event i is off the map (then nothing is changed).

    `last` (height + 2, width + 2) holds each pixel's latest time minus base at
    (y + 1, x + 1), with a border that never fires (so no neighbour bounds tests); it is
    updated with every event, kept or not, after the event's own test.
    """
    h, w = last.shape[0] - 2, last.shape[1] - 2
    # one pass first: events off the map refuse the chunk, and the filtering loop stops
    # where time leaves the span, so that it has no exit of its own
    stop = x.shape[0]
    for i in range(x.shape[0]):
        if x[i] >= w or y[i] >= h:
            return -1 - i, 0
        if stop == x.shape[0] and not -SPAN <= t[i] - base < SPAN:
            stop = i
    n = 0
    for i in range(stop):
        r, c, ti = np.int64(y[i]) + 1, np.int64(x[i]) + 1, t[i] - base
        above, here, below = last[r - 1], last[r], last[r + 1]
        newest = max(max(above[c - 1], above[c], above[c + 1]),
                     max(here[c - 1], here[c + 1]),
                     max(below[c - 1], below[c], below[c + 1]))
        # copied always and counted when kept: a third of the events are dropped, too
        # mixed for branch prediction (n <= i, so dst has room)
        dst[n, 0] = src[i, 0]
        dst[n, 1] = src[i, 1]
        n += np.int64(ti - np.int64(newest) < window_us)
        here[c] = np.int32(ti)
    return stop, n


def rebase(last: np.ndarray, base: int, new_base: int) -> None:
    """Times of `last` (from base) made relative to new_base: those older than SPAN
    before it become NEVER (no window reaches them), pixels that never fired stay so."""
    moved = last.astype(np.int64) - (new_base - base)
    never = (last == NEVER) | (moved < -SPAN)
    last[:] = np.where(never, NEVER, np.minimum(moved, SPAN))


class DenoiseState:
    """`denoise` chunk by chunk: each call filters the next chunk of one stream, with each
    pixel's latest time carried over from the chunks before (fresh at construction).

    Examples
    --------
    >>> state = DenoiseState(width=320, height=240, window_us=2000)
    >>> kept = [state(chunk) for chunk in chunks]  # doctest: +SKIP
    """

    def __init__(self, *, width: int, height: int, window_us: int = 2000) -> None:
        self.window_us = Denoise.Params(window_us=window_us).window_us
        self.sensor = self.width, self.height = check_sensor(width, height)
        self.last = np.full((self.height + 2, self.width + 2), NEVER, dtype=np.int32)
        self.base: int | None = None
        # outputs reused once sent and dropped: fresh ones page-fault inside the kernel
        self.buffers = Recycler(keep=4, keep_bytes=1 << 25)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ev = check_events(events)
        if not len(ev):
            return np.empty(0, EVENT_DTYPE)
        out = self.buffers.get(len(ev), EVENT_DTYPE)
        if self.base is None:
            self.base = int(ev["t"][0])
        # Strided field views and raw rows: the kernel reads the input in place.
        x, y, t, src, dst = ev["x"], ev["y"], ev["t"], rows(ev), rows(out)
        i, n = background_activity(x, y, t, src, self.last, self.base, self.window_us, dst)
        if i < 0:
            raise OffSensor(ev, -1 - i, self.width, self.height)
        while i < len(ev):  # an event more than SPAN from base: rarely, as time runs on
            rebase(self.last, self.base, int(t[i]))
            self.base = int(t[i])
            k, m = background_activity(x[i:], y[i:], t[i:], src[i:], self.last, self.base, self.window_us, dst[n:])
            i, n = i + k, n + m
        return out[:n]


def denoise(events: np.ndarray, *, width: int, height: int, window_us: int = 2000) -> np.ndarray:
    """Background-activity noise filter over a whole stream (what `events.denoise` does).

    Keeps an event only when one of its 8 neighbours fired less than `window_us` before
    it; pixels that have not fired support nothing. Same rule as dv-processing's
    BackgroundActivityNoiseFilter.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p) in time order.
    width, height : int
        Sensor size (pixels); every event must lie on it.
    window_us : int
        Support window (µs): a neighbour must have fired within it.

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events kept, in input order (a new array; the input is not changed).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[5, 6, 30], y=[5, 5, 9], p=[1, 1, 0], t=[0, 100, 200])
    >>> denoise(ev, width=32, height=32, window_us=1000)["x"].tolist()
    [6]
    """
    return DenoiseState(width=width, height=height, window_us=window_us)(events)


class Denoise(EventTransform):
    """Background-activity noise filter: keeps an event only when one of its 8 neighbours
    fired less than `window_us` before it (isolated events are sensor noise).

    Same rule as dv-processing's BackgroundActivityNoiseFilter, except that pixels that
    have not fired yet support nothing (dv-processing treats them as having fired at t=0).
    State carries across chunks. Counts dropped events as `dropped`.
    """

    class Params(streamer.node.Params):
        window_us: int = Field(2000, gt=0, le=MAX_WINDOW_US,
                               description="support window: a neighbour must have fired within it (µs)")

    def start(self) -> None:
        self.state: DenoiseState | None = None

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg, check=False)
        out = self.through_state(msg, (w, h), lambda: DenoiseState(width=w, height=h, window_us=self.params.window_us),
                                 pixels=(w, h))
        self.count("dropped", len(msg.data) - len(out))
        return msg.with_data(out)
