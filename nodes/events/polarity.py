"""Polarity selection: keep ON, OFF or both; optionally merge them into one."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import streamer.node
from streamer.streams import Message

from .base import EventTransform, check_events


def polarity(events: np.ndarray, *, keep: str = "both", merge: bool = False) -> np.ndarray:
    """Polarity selection (what `events.polarity` does): keeps ON (p = 1), OFF (p = 0) or
    both kinds of events; with `merge`, every event kept gets p = 1.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p).
    keep : {"on", "off", "both"}
        Which polarities pass.
    merge : bool
        Set p = 1 on every event passed.

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events kept, in input order (a new array).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[0, 1], y=[0, 0], p=[1, 0], t=[0, 1])
    >>> polarity(ev, keep="off")["x"].tolist()
    [1]
    """
    p = Polarity.Params(keep=keep, merge=merge)
    ev = check_events(events)
    ev = ev[ev["p"] == (1 if p.keep == "on" else 0)] if p.keep != "both" else ev.copy()
    if p.merge:
        ev["p"] = 1
    return ev


class Polarity(EventTransform):
    """Keeps ON (p = 1), OFF (p = 0) or both kinds of events; with `merge`, every event
    passed gets p = 1 (one channel for consumers that ignore polarity)."""

    class Params(streamer.node.Params):
        keep: Literal["on", "off", "both"] = Field("both", description="which polarities pass")
        merge: bool = Field(False, description="set p = 1 on every event passed")

    def receive(self, port: str, msg: Message) -> Message:
        self.geometry(msg)
        if self.params.keep == "both" and not self.params.merge:
            return msg  # nothing to change: no copy
        return msg.with_data(polarity(msg.data, **self.params.model_dump()))
