"""Background-activity filter: an event is kept when one of its 8 neighbours fired
within the last `window_us` (the rule of dv-processing's BackgroundActivityNoiseFilter)."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform, columns

NEVER = np.iinfo(np.int64).min // 4  # a pixel that has not fired (no overflow in t - NEVER)


@njit(cache=True, nogil=True)
def background_activity(x: np.ndarray, y: np.ndarray, t: np.ndarray, last: np.ndarray,
                        window_us: int, keep: np.ndarray) -> int:
    """keep[i] = some 8-neighbour of event i fired less than window_us before it.

    `last` (height, width) holds each pixel's latest timestamp and is updated with every
    event, kept or not, after its own test. Returns the number kept.
    """
    h, w = last.shape
    n = 0
    for i in range(x.shape[0]):
        xi, yi, ti = np.int64(x[i]), np.int64(y[i]), t[i]
        ok = False
        for dy in range(-1, 2):
            yy = yi + dy
            if yy < 0 or yy >= h:
                continue
            for dx in range(-1, 2):
                xx = xi + dx
                if (dx == 0 and dy == 0) or xx < 0 or xx >= w:
                    continue
                if ti - last[yy, xx] < window_us:
                    ok = True
                    break
            if ok:
                break
        keep[i] = ok
        n += ok
        last[yi, xi] = ti
    return n


class Denoise(EventTransform):
    """Background-activity noise filter: keeps an event only when one of its 8 neighbours
    fired less than `window_us` before it (isolated events are sensor noise).

    Same rule as dv-processing's BackgroundActivityNoiseFilter, except that pixels that
    have not fired yet support nothing (dv-processing treats them as having fired at t=0).
    State carries across chunks. Counts dropped events as `dropped`.
    """

    class Params(streamer.node.Params):
        window_us: int = Field(2000, gt=0, description="support window: a neighbour must have fired within it (µs)")

    def start(self) -> None:
        self.last: np.ndarray | None = None

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg)
        if self.last is None or self.last.shape != (h, w):
            self.last = np.full((h, w), NEVER, dtype=np.int64)
        x, y, _, t = columns(msg.data)
        keep = np.empty(len(t), dtype=np.bool_)
        n = background_activity(x, y, t, self.last, self.params.window_us, keep)
        self.count("dropped", len(t) - n)
        return msg.with_data(msg.data[keep])
