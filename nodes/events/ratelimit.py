"""Rate limit: cap the event rate by a deterministic uniform subsample."""
from __future__ import annotations

import numpy as np
from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform


class RateLimit(EventTransform):
    """Passes at most `max_events_per_s` on average over device time (a token bucket that
    holds up to `burst_ms` worth of events); when a chunk has more, it keeps an evenly
    spaced subset (deterministic, uniform over the chunk). Counts drops as `dropped`."""

    class Params(streamer.node.Params):
        max_events_per_s: float = Field(1e6, gt=0, description="average event rate allowed (events/s)")
        burst_ms: float = Field(10.0, ge=0, description="unused allowance kept, at most this much device time (ms)")

    def start(self) -> None:
        self.t_last: int | None = None
        self.credit = 0.0

    def receive(self, port: str, msg: Message) -> Message:
        self.geometry(msg)
        ev = msg.data
        n = len(ev)
        if n == 0:
            return msg
        rate = self.params.max_events_per_s
        t_end = int(ev["t"][-1])
        # The first chunk is allowed its own span (+1 µs so a single event always passes).
        span = t_end - (self.t_last if self.t_last is not None else int(ev["t"][0]) - 1)
        self.t_last = t_end if self.t_last is None else max(t_end, self.t_last)
        allowed = self.credit + rate * max(span, 0) * 1e-6
        k = min(n, int(allowed))
        self.credit = min(allowed - k, max(1.0, rate * self.params.burst_ms * 1e-3))
        if k == n:
            return msg
        self.count("dropped", n - k)
        idx = (np.arange(k, dtype=np.int64) * n) // k if k else np.empty(0, np.int64)
        return msg.with_data(ev[idx])
