"""Polarity selection: keep ON, OFF or both; optionally merge them into one."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform


class Polarity(EventTransform):
    """Keeps ON (p = 1), OFF (p = 0) or both kinds of events; with `merge`, every event
    passed gets p = 1 (one channel for consumers that ignore polarity)."""

    class Params(streamer.node.Params):
        keep: Literal["on", "off", "both"] = Field("both", description="which polarities pass")
        merge: bool = Field(False, description="set p = 1 on every event passed")

    def receive(self, port: str, msg: Message) -> Message:
        self.geometry(msg)
        ev = msg.data
        keep = self.params.keep
        if keep != "both":
            ev = ev[ev["p"] == (1 if keep == "on" else 0)]
        if self.params.merge:
            ev = ev.copy() if ev is msg.data else ev
            ev["p"] = 1
        if ev is msg.data:
            return msg
        return msg.with_data(ev)
