"""Refractory period: a pixel is silent for `refractory_us` after each event it passes."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

import streamer.node
from streamer.streams import EVENT_DTYPE, Message

from .base import EventTransform, OffSensor, check_events, check_sensor, copy_row, first_outside, rows

NEVER = np.iinfo(np.int64).min // 4  # a pixel that has not fired (no overflow in t - NEVER)


@njit(cache=True, nogil=True)
def refractory_period(x: np.ndarray, y: np.ndarray, t: np.ndarray, src: np.ndarray, last: np.ndarray,
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


class RefractoryState:
    """`refractory` chunk by chunk: each pixel's last time is carried over from the chunks
    before (fresh at construction)."""

    def __init__(self, *, width: int, height: int, refractory_us: int = 1000,
                 restart_on_drop: bool = False) -> None:
        self.params = Refractory.Params(refractory_us=refractory_us, restart_on_drop=restart_on_drop)
        self.sensor = self.width, self.height = check_sensor(width, height)
        self.last = np.full((self.height, self.width), NEVER, dtype=np.int64)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ev = check_events(events)
        out = np.empty(len(ev), EVENT_DTYPE)
        n = refractory_period(ev["x"], ev["y"], ev["t"], rows(ev), self.last, self.params.refractory_us,
                       self.params.restart_on_drop, rows(out))
        if n < 0:
            raise OffSensor(ev, -1 - n, self.width, self.height)
        return out[:n]


def refractory(events: np.ndarray, *, width: int, height: int, refractory_us: int = 1000,
                      restart_on_drop: bool = False) -> np.ndarray:
    """Refractory period over a whole stream (what `events.refractory` does): after a pixel
    passes an event (either polarity), its events are dropped until `refractory_us` have
    elapsed.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p) in time order.
    width, height : int
        Sensor size (pixels); every event must lie on it.
    refractory_us : int
        Silence after each passed event of a pixel (µs).
    restart_on_drop : bool
        Dropped events restart the period too (dv-processing's C++ RefractoryPeriodFilter).

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events kept, in input order (a new array).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[1, 1, 1], y=[2, 2, 2], p=[1, 0, 1], t=[0, 500, 1200])
    >>> refractory(ev, width=4, height=4, refractory_us=1000)["t"].tolist()
    [0, 1200]
    """
    return RefractoryState(width=width, height=height, refractory_us=refractory_us,
                           restart_on_drop=restart_on_drop)(events)


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
        self.state: RefractoryState | None = None

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg, check=False)
        out = self.through_state(msg, (w, h), lambda: RefractoryState(width=w, height=h, **self.params.model_dump()),
                                 pixels=(w, h))
        self.count("dropped", len(msg.data) - len(out))
        return msg.with_data(out)
