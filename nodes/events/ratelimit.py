"""Rate limit: cap the event rate with a token bucket on the device clock."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import EVENT_DTYPE, Message

from .base import EventTransform, check_events, copy_row, rows


@njit(cache=True, nogil=True)
def token_bucket(t: np.ndarray, src: np.ndarray, credit: np.ndarray, t_last: np.ndarray,
                 per_us: float, cap: float, dst: np.ndarray) -> int:
    """Copy to dst (rows) the events (rows of src) that find a whole token: the bucket
    (`credit[0]`, carried across chunks) fills at per_us tokens per µs of device time since
    `t_last[0]`, up to `cap`, and each event passed takes one. Returns how many."""
    c, tl = credit[0], t_last[0]
    n = 0
    for i in range(t.shape[0]):
        if t[i] > tl:
            c = min(cap, c + (t[i] - tl) * per_us)
            tl = t[i]
        if c >= 1.0:
            c -= 1.0
            copy_row(src, i, dst, n)
            n += 1
    credit[0], t_last[0] = c, tl
    return n


class RateLimitState:
    """`ratelimit` chunk by chunk: the token bucket carries over from the chunks before
    (full at construction)."""

    def __init__(self, *, max_events_per_s: float = 1e6, burst_ms: float = 10.0) -> None:
        self.params = p = RateLimit.Params(max_events_per_s=max_events_per_s, burst_ms=burst_ms)
        self.cap = max(1.0, p.max_events_per_s * p.burst_ms * 1e-3)
        self.credit = np.array([self.cap])
        self.t_last: np.ndarray | None = None

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ev = check_events(events)
        if len(ev) == 0:
            return ev.copy()
        if self.t_last is None:
            self.t_last = np.array([ev["t"][0]], np.int64)
        out = np.empty(len(ev), EVENT_DTYPE)
        n = token_bucket(ev["t"], rows(ev), self.credit, self.t_last,
                         self.params.max_events_per_s * 1e-6, self.cap, rows(out))
        return out[:n]


def ratelimit(events: np.ndarray, *, max_events_per_s: float = 1e6, burst_ms: float = 10.0) -> np.ndarray:
    """Rate limit over a whole stream (what `events.ratelimit` does): a token bucket on
    the device clock that fills at `max_events_per_s` and holds up to `burst_ms` worth of
    events (full at the start); each event passed takes one token. Under overload the
    events passed are evenly spread in time.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p) in time order.
    max_events_per_s : float
        Average event rate allowed (events/s).
    burst_ms : float
        Unused allowance kept, at most this much device time (ms).

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events passed, in input order (a new array).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[0] * 4, y=[0] * 4, p=[1] * 4, t=[0, 1, 2, 1000])
    >>> ratelimit(ev, max_events_per_s=1000, burst_ms=1)["t"].tolist()
    [0, 1000]
    """
    return RateLimitState(max_events_per_s=max_events_per_s, burst_ms=burst_ms)(events)


class RateLimit(EventTransform):
    """Passes at most `max_events_per_s` on average over device time: a token bucket that
    fills at that rate and holds up to `burst_ms` worth of events (full at the start).
    Under overload the events passed are evenly spread in time, one each 1/rate; the
    choice depends only on the events' times, not on how the stream is chunked.
    Counts drops as `dropped`."""

    class Params(streamer.node.Params):
        max_events_per_s: float = Field(1e6, gt=0, description="average event rate allowed (events/s)")
        burst_ms: float = Field(10.0, ge=0, description="unused allowance kept, at most this much device time (ms)")

    def start(self) -> None:
        self.state = RateLimitState(**self.params.model_dump())

    def receive(self, port: str, msg: Message) -> Message:
        self.geometry(msg)
        out = self.state(msg.data)
        if len(out) == len(msg.data):
            return msg
        self.count("dropped", len(msg.data) - len(out))
        return msg.with_data(out)
