"""Refractory period: a pixel is silent for `refractory_us` after each event it passes."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform, columns
from .denoise import NEVER


@njit(cache=True, nogil=True)
def refractory(x: np.ndarray, y: np.ndarray, t: np.ndarray, last: np.ndarray,
               period_us: int, keep: np.ndarray) -> int:
    """keep[i] = pixel (x, y) passed no event in the period_us before t[i]; `last`
    (height, width) holds each pixel's last passed timestamp. Returns the number kept."""
    n = 0
    for i in range(x.shape[0]):
        ok = t[i] - last[y[i], x[i]] >= period_us
        keep[i] = ok
        if ok:
            last[y[i], x[i]] = t[i]
            n += 1
    return n


class Refractory(EventTransform):
    """Refractory filter: after a pixel passes an event (either polarity), its further
    events are dropped until `refractory_us` have elapsed. Removes bursts of one pixel.
    State carries across chunks. Counts dropped events as `dropped`."""

    class Params(streamer.node.Params):
        refractory_us: int = Field(1000, ge=0, description="silence after each passed event of a pixel (µs)")

    def start(self) -> None:
        self.last: np.ndarray | None = None

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg)
        if self.last is None or self.last.shape != (h, w):
            self.last = np.full((h, w), NEVER, dtype=np.int64)
        x, y, _, t = columns(msg.data)
        keep = np.empty(len(t), dtype=np.bool_)
        n = refractory(x, y, t, self.last, self.params.refractory_us, keep)
        self.count("dropped", len(t) - n)
        return msg.with_data(msg.data[keep])
