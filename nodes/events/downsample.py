"""Spatial downsampling: integer division of the coordinates, optionally through a
per-block integrate-and-fire that merges many input events into fewer output events."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import EVENT_DTYPE, Message

from .base import EventTransform, columns, first_outside


@njit(cache=True, nogil=True)
def integrate_and_fire(x: np.ndarray, y: np.ndarray, p: np.ndarray, t: np.ndarray, factor: int,
                       threshold: int, acc: np.ndarray, w: int, h: int, dst: np.ndarray) -> int:
    """Each input adds +1 (ON) or -1 (OFF) to the accumulator of its factor x factor block
    (`acc`, carried across chunks); when it reaches +threshold or -threshold the block
    emits one event of that sign at the input's time and its accumulator restarts at 0.
    Writes into dst (EVENT_DTYPE); returns how many, or -1 - i if event i is off the sensor
    (then nothing is changed)."""
    bad = first_outside(x, y, w, h)
    if bad >= 0:
        return -1 - bad
    n = 0
    for i in range(x.shape[0]):
        bx, by = x[i] // factor, y[i] // factor
        a = acc[by, bx] + (1 if p[i] > 0 else -1)
        if a >= threshold or a <= -threshold:
            dst[n].x, dst[n].y, dst[n].t = bx, by, t[i]
            dst[n].p = 1 if a > 0 else 0
            n += 1
            a = 0
        acc[by, bx] = a
    return n


class Downsample(EventTransform):
    """Divides x and y by `factor` (floor): a factor x factor block of pixels becomes one;
    width and height become ceil(size / factor).

    accumulate = 0: every event is kept with its new coordinates. accumulate = N: each
    block integrates its events (ON +1, OFF -1) and fires one event when the sum reaches
    +N or -N (then restarts from 0): the integrator used for spatio-temporal
    downsampling (tonic's integrator method, Ghosh et al. 2023), which cuts the event rate
    about N-fold and cancels flicker. Its state carries across chunks.
    """

    class Params(streamer.node.Params):
        factor: int = Field(2, ge=1, description="pixels per output pixel along each axis")
        accumulate: int = Field(0, ge=0, description="integrate-and-fire threshold per block "
                                                     "(events of one sign); 0 = keep every event")

    def start(self) -> None:
        self.acc: np.ndarray | None = None

    def receive(self, port: str, msg: Message) -> Message:
        f = self.params.factor
        n_acc = self.params.accumulate
        w, h = self.geometry(msg, check=n_acc == 0)
        w2, h2 = -(-w // f), -(-h // f)
        if n_acc == 0:
            ev = msg.data.copy()
            ev["x"] //= f
            ev["y"] //= f
            return msg.with_data(ev, width=w2, height=h2)
        acc = self.acc
        if acc is None or acc.shape != (h2, w2):  # a new sensor: kept once a chunk fits it
            self.pixel_map(w2, h2)
            acc = np.zeros((h2, w2), np.int64)
        out = np.empty(len(msg.data), EVENT_DTYPE)
        n = integrate_and_fire(*columns(msg.data), f, n_acc, acc, w, h, out)
        if n < 0:
            raise self.outside(msg, -1 - n)
        self.acc = acc
        self.count("merged", len(msg.data) - n)
        return msg.with_data(out[:n], width=w2, height=h2)
