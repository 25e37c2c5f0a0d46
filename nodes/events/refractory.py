"""Refractory period: a pixel is silent for `refractory_us` after each event it passes."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import EVENT_DTYPE, Message

from .base import EventTransform, copy_row, first_outside, rows
from .denoise import NEVER


@njit(cache=True, nogil=True)
def refractory(x: np.ndarray, y: np.ndarray, t: np.ndarray, src: np.ndarray, last: np.ndarray,
               period_us: int, every: bool, dst: np.ndarray) -> int:
    """Copy to dst (rows) the events (rows of src) at least period_us after their pixel's
    time in `last` (height, width), which holds the last passed event's time, or with
    `every` the last event's time, passed or not. Returns how many, or -1 - i if event i
    is off the map (then nothing is changed)."""
    h, w = last.shape
    bad = first_outside(x, y, w, h)
    if bad >= 0:
        return -1 - bad
    n = 0
    for i in range(x.shape[0]):
        passed = t[i] - last[y[i], x[i]] >= period_us
        if passed or every:
            last[y[i], x[i]] = t[i]
        if passed:
            copy_row(src, i, dst, n)
            n += 1
    return n


class Refractory(EventTransform):
    """Refractory filter: after a pixel passes an event (either polarity), its further
    events are dropped until `refractory_us` have elapsed. Removes bursts of one pixel.
    With `restart_on_drop`, dropped events restart the period too (the rule of
    dv-processing's C++ RefractoryPeriodFilter: a pixel firing faster than the period
    stays silent). State carries across chunks. Counts dropped events as `dropped`."""

    class Params(streamer.node.Params):
        refractory_us: int = Field(1000, ge=0, description="silence after each passed event of a pixel (µs)")
        restart_on_drop: bool = Field(False, description="dropped events restart the period as well")

    def start(self) -> None:
        self.last: np.ndarray | None = None

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg, check=False)
        last = self.last
        if last is None or last.shape != (h, w):  # a new sensor: kept once a chunk fits it
            self.pixel_map(w, h)
            last = np.full((h, w), NEVER, dtype=np.int64)
        ev = msg.data
        out = np.empty(len(ev), EVENT_DTYPE)
        n = refractory(ev["x"], ev["y"], ev["t"], rows(ev), last, self.params.refractory_us,
                       self.params.restart_on_drop, rows(out))
        if n < 0:
            raise self.outside(msg, -1 - n)
        self.last = last
        self.count("dropped", len(ev) - n)
        return msg.with_data(out[:n])
