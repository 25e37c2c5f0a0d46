"""Mirror and rotate the sensor image."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform


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
        p = self.params
        ev = msg.data.copy()
        x = ev["x"].astype("i4")
        y = ev["y"].astype("i4")
        if p.flip_x:
            x = w - 1 - x
        if p.flip_y:
            y = h - 1 - y
        if p.rotate == 90:
            x, y, w, h = h - 1 - y, x, h, w
        elif p.rotate == 180:
            x, y = w - 1 - x, h - 1 - y
        elif p.rotate == 270:
            x, y, w, h = y, w - 1 - x, h, w
        ev["x"], ev["y"] = x, y
        return msg.with_data(ev, width=w, height=h)
