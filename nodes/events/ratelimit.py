"""Rate limit: cap the event rate with a token bucket on the device clock."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import EVENT_DTYPE, Message

from .base import EventTransform, copy_row, rows


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
        p = self.params
        self.cap = max(1.0, p.max_events_per_s * p.burst_ms * 1e-3)
        self.credit = np.array([self.cap])
        self.t_last: np.ndarray | None = None

    def receive(self, port: str, msg: Message) -> Message:
        self.geometry(msg)
        ev = msg.data
        if len(ev) == 0:
            return msg
        if self.t_last is None:
            self.t_last = np.array([ev["t"][0]], np.int64)
        out = np.empty(len(ev), EVENT_DTYPE)
        n = token_bucket(ev["t"], rows(ev), self.credit, self.t_last,
                         self.params.max_events_per_s * 1e-6, self.cap, rows(out))
        if n == len(ev):
            return msg
        self.count("dropped", len(ev) - n)
        return msg.with_data(out[:n])
