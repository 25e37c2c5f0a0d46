"""What every actuator shares: the payload it sends, send-time stamps, counts, latency."""
from __future__ import annotations

import collections
import json
import logging
import math
from typing import Any, Literal

import msgpack
import numpy as np
from pydantic import Field

import streamer.node
from streamer.latency import Histogram, percentile
from streamer.node import Port, Sink
from streamer.streams import COMMAND, Message, now

log = logging.getLogger(__name__)

# Latency values kept for inspection (the histogram keeps the whole distribution).
LAST_LATENCIES = 256


def _plain(obj: Any) -> Any:
    """JSON/msgpack fallback for NumPy values that commands may carry."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot encode {type(obj).__name__} in a command")


def encode(payload: dict, fmt: str) -> bytes:
    """A command payload as bytes: JSON (UTF-8, one object) or msgpack (one map)."""
    if fmt == "json":
        return json.dumps(payload, default=_plain, separators=(",", ":")).encode()
    return msgpack.packb(payload, default=_plain, use_bin_type=True)


class ActuatorParams(streamer.node.Params):
    format: Literal["json", "msgpack"] = Field("json", description="payload encoding")


class Actuator(Sink):
    """Base of the actuators: `send(payload)` does the I/O; the rest is shared.

    Each command becomes a payload {action, value, safety, t_origin, t_sent, ...extra}
    where t_sent is the host monotonic time of sending (the clock of t_origin). Counters:
    sent, errors. `latency` holds now - t_origin at each send; `last_latencies_s` the
    newest values.
    """

    inputs = {"in": Port(COMMAND, "commands to send")}
    outputs: dict[str, Port] = {}
    Params = ActuatorParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.latency = Histogram()
        self.last_latencies_s: collections.deque[float] = collections.deque(maxlen=LAST_LATENCIES)

    def send(self, payload: dict) -> bool | None:
        """Send one payload; return False if it was dropped (counted by the subclass)."""
        raise NotImplementedError

    def payload(self, msg: Message, t_sent: float) -> dict:
        item = dict(msg.data) if isinstance(msg.data, dict) else {"value": msg.data}
        item.setdefault("action", "")
        item.setdefault("value", None)
        item["t_origin"] = None if math.isnan(msg.t_origin) else msg.t_origin
        item["t_sent"] = t_sent
        return item

    def receive(self, port: str, msg: Message) -> None:
        t_sent = now()
        try:
            if self.send(self.payload(msg, t_sent)) is False:
                return None
        except Exception as exc:  # noqa: BLE001 - a failed send is counted, the stream goes on
            self.count("errors")
            if self.counters["errors"] == 1 or self.counters["errors"] % 100 == 0:
                log.error("%s: sending %r failed (%d errors so far): %s", self.name,
                          msg.data.get("action") if isinstance(msg.data, dict) else msg.data,
                          self.counters["errors"], exc)
            return None
        self.count("sent")
        if math.isfinite(msg.t_origin):
            lat = now() - msg.t_origin
            self.latency.add(lat)
            self.last_latencies_s.append(lat)
        return None

    def latency_s(self, q: float = 50.0) -> float:
        """The q-th percentile of now - t_origin at sending, in seconds (NaN if none)."""
        return percentile(self.latency.counts, q)
