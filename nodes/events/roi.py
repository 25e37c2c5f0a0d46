"""Region of interest: keep the events inside a rectangle."""
from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer.node import Rejected
from streamer.streams import Message

from .base import EventTransform, check_events


def roi(events: np.ndarray, *, x1: int, y1: int, x0: int = 0, y0: int = 0, crop: bool = True) -> np.ndarray:
    """Region of interest (what `events.roi` does): keeps the events with x0 <= x < x1 and
    y0 <= y < y1.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p).
    x1, y1 : int
        Right and bottom edges (pixels, exclusive).
    x0, y0 : int
        Left and top edges (pixels, inclusive).
    crop : bool
        Shift the coordinates to the rectangle's corner (the sensor becomes
        (x1 - x0) x (y1 - y0)).

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events inside, in input order (a new array).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[1, 5, 9], y=[1, 5, 9], p=[1, 1, 1], t=[0, 1, 2])
    >>> roi(ev, x0=4, y0=4, x1=8, y1=8)["x"].tolist()
    [1]
    """
    p = Roi.Params(x0=x0, y0=y0, x1=x1, y1=y1, crop=crop)
    ev = check_events(events)
    x, y = ev["x"], ev["y"]
    out = ev[(x >= p.x0) & (x < p.x1) & (y >= p.y0) & (y < p.y1)]  # a copy (boolean indexing)
    if p.crop:
        out["x"] -= p.x0
        out["y"] -= p.y0
    return out


class Roi(EventTransform):
    """Keeps the events with x0 <= x < x1 and y0 <= y < y1. With `crop` (default) the
    coordinates are shifted to the rectangle's corner and width/height become its size."""

    class Params(streamer.node.Params):
        x0: int = Field(0, ge=0, description="left edge (px, inclusive)")
        y0: int = Field(0, ge=0, description="top edge (px, inclusive)")
        x1: int = Field(..., gt=0, description="right edge (px, exclusive)")
        y1: int = Field(..., gt=0, description="bottom edge (px, exclusive)")
        crop: bool = Field(True, description="shift coordinates to the rectangle and shrink width/height")

        @model_validator(mode="after")
        def _ordered(self):
            if self.x1 <= self.x0 or self.y1 <= self.y0:
                raise ValueError(f"empty region: need x0 < x1 and y0 < y1, got x {self.x0}..{self.x1}, "
                                 f"y {self.y0}..{self.y1}")
            return self

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg)
        p = self.params
        if p.x1 > w or p.y1 > h:
            raise Rejected(f"{self.name}: region x {p.x0}..{p.x1}, y {p.y0}..{p.y1} exceeds the {w}x{h} "
                           "sensor; fix x1/y1")
        out = roi(msg.data, **p.model_dump())
        if not p.crop:
            return msg.with_data(out)
        return msg.with_data(out, width=p.x1 - p.x0, height=p.y1 - p.y0)
