"""Mirror and rotate the sensor image."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform, OffSensor, check_events, check_sensor, first_outside


def flip(events: np.ndarray, *, width: int, height: int, flip_x: bool = False, flip_y: bool = False,
         rotate: int = 0) -> np.ndarray:
    """Mirror and rotate (what `events.flip` does): mirrors left-right (`flip_x`) and
    top-bottom (`flip_y`), then rotates clockwise by `rotate` degrees as seen on screen
    (y pointing down). 90 and 270 swap the sensor's width and height.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p); every event must lie on the sensor.
    width, height : int
        Sensor size (pixels) before the flips.
    flip_x, flip_y : bool
        Mirror left-right, top-bottom.
    rotate : {0, 90, 180, 270}
        Clockwise rotation after the flips (degrees).

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events moved, in input order (a new array).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[0], y=[1], p=[1], t=[0])
    >>> out = flip(ev, width=4, height=3, rotate=90)
    >>> out["x"].tolist(), out["y"].tolist()
    ([1], [0])
    """
    p = Flip.Params(flip_x=flip_x, flip_y=flip_y, rotate=rotate)
    ev = check_events(events).copy()
    w, h = check_sensor(width, height, per_pixel=False)
    bad = first_outside(ev["x"], ev["y"], w, h)
    if bad >= 0:  # it would wrap round to the far side
        raise OffSensor(ev, bad, w, h)
    x = ev["x"].astype("i4")
    y = ev["y"].astype("i4")
    if p.flip_x:
        x = w - 1 - x
    if p.flip_y:
        y = h - 1 - y
    if p.rotate == 90:
        x, y = h - 1 - y, x
    elif p.rotate == 180:
        x, y = w - 1 - x, h - 1 - y
    elif p.rotate == 270:
        x, y = y, w - 1 - x
    ev["x"], ev["y"] = x, y
    return ev


class Flip(EventTransform):
    """Mirrors (flip_x: left-right, flip_y: top-bottom), then rotates clockwise by
    `rotate` degrees as seen on screen (y pointing down). 90 and 270 swap width and
    height."""

    class Params(streamer.node.Params):
        flip_x: bool = Field(False, description="mirror left-right")
        flip_y: bool = Field(False, description="mirror top-bottom")
        rotate: Literal[0, 90, 180, 270] = Field(0, description="clockwise rotation after the flips (degrees)")

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg)
        out = flip(msg.data, width=w, height=h, **self.params.model_dump())
        if self.params.rotate in (90, 270):
            w, h = h, w
        return msg.with_data(out, width=w, height=h)
