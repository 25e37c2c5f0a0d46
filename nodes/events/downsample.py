"""Spatial downsampling: integer division of the coordinates."""
from __future__ import annotations

from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform


class Downsample(EventTransform):
    """Divides x and y by `factor` (floor): a factor x factor block of pixels becomes one.
    Width and height become ceil(size / factor). Events are kept (none merged)."""

    class Params(streamer.node.Params):
        factor: int = Field(2, ge=1, description="pixels per output pixel along each axis")

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg)
        f = self.params.factor
        ev = msg.data.copy()
        ev["x"] //= f
        ev["y"] //= f
        return msg.with_data(ev, width=-(-w // f), height=-(-h // f))
