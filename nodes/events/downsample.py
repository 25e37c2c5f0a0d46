"""Spatial downsampling: integer division of the coordinates, optionally through a
per-block integrate-and-fire that merges many input events into fewer output events."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import EVENT_DTYPE, Message

from .base import EventTransform, OffSensor, check_events, check_sensor, columns, first_outside


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


class DownsampleState:
    """`downsample` chunk by chunk: with `accumulate`, each block's integrator carries over
    from the chunks before (fresh at construction). `width`, `height` of the output
    sensor: ceil(size / factor)."""

    def __init__(self, *, width: int, height: int, factor: int = 2, accumulate: int = 0) -> None:
        self.params = Downsample.Params(factor=factor, accumulate=accumulate)
        self.sensor = self.in_width, self.in_height = check_sensor(width, height, per_pixel=False)
        f = self.params.factor
        self.width, self.height = -(-self.in_width // f), -(-self.in_height // f)
        self.acc = None
        if self.params.accumulate:
            check_sensor(self.width, self.height)
            self.acc = np.zeros((self.height, self.width), np.int64)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ev = check_events(events)
        f = self.params.factor
        if self.acc is None:
            bad = first_outside(ev["x"], ev["y"], self.in_width, self.in_height)
            if bad >= 0:
                raise OffSensor(ev, bad, self.in_width, self.in_height)
            out = ev.copy()
            out["x"] //= f
            out["y"] //= f
            return out
        out = np.empty(len(ev), EVENT_DTYPE)
        n = integrate_and_fire(*columns(ev), f, self.params.accumulate, self.acc, self.in_width, self.in_height,
                               out)
        if n < 0:
            raise OffSensor(ev, -1 - n, self.in_width, self.in_height)
        return out[:n]


def downsample(events: np.ndarray, *, width: int, height: int, factor: int = 2, accumulate: int = 0) -> np.ndarray:
    """Spatial downsampling over a whole stream (what `events.downsample` does): x and y
    divided by `factor` (floor); the sensor becomes ceil(width / factor) x
    ceil(height / factor).

    With `accumulate` = N > 0, each factor x factor block integrates its events (ON +1,
    OFF -1) and fires one event, at the time of the input that reached it, when the sum
    reaches +N or -N (then restarts from 0): tonic's integrator downsampling.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p) in time order.
    width, height : int
        Sensor size (pixels) of the input; every event must lie on it.
    factor : int
        Pixels per output pixel along each axis.
    accumulate : int
        Integrate-and-fire threshold per block (events of one sign); 0 = keep every event.

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events on the smaller sensor, in time order (a new array).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[0, 1, 1], y=[0, 1, 0], p=[1, 1, 1], t=[0, 1, 2])
    >>> downsample(ev, width=4, height=4, factor=2, accumulate=3)["t"].tolist()
    [2]
    """
    return DownsampleState(width=width, height=height, factor=factor, accumulate=accumulate)(events)


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
        self.state: DownsampleState | None = None

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg, check=False)
        f = self.params.factor
        out = self.through_state(msg, (w, h), lambda: DownsampleState(width=w, height=h, **self.params.model_dump()),
                                 pixels=(-(-w // f), -(-h // f)) if self.params.accumulate else None)
        state = self.state
        if self.params.accumulate:
            self.count("merged", len(msg.data) - len(out))
        return msg.with_data(out, width=state.width, height=state.height)
