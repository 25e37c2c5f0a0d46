"""What every actuator shares: the payload it sends, send-time stamps, counts, latency,
and its part of the safe state: the safe command when it starts and before it closes,
and an optional heartbeat for the device's own deadman."""
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


class SafeParams(streamer.node.Params):
    """What every actuator takes: its safe command and the heartbeat."""

    safe_action: str | None = Field(
        None, description="action of the safe command sent when the actuator starts and before it "
                          "closes; default: the safe command of the gate feeding it (none without a gate)")
    safe_value: Any = Field(None, description="value of the safe command")
    heartbeat_ms: float | None = Field(
        None, gt=0, description="resend the last command when nothing was sent for this long, so that "
                                "the device's deadman can tell a live link from a dead one")


class ActuatorParams(SafeParams):
    format: Literal["json", "msgpack"] = Field("json", description="payload encoding")


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """'host:port', 'host', ':port' or '[v6]:port' -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    try:
        number = int(port) if port else default_port
    except ValueError:
        raise ValueError(f"address {text!r}: port {port!r} is not a number; write host:port") from None
    if not 0 < number < 65536:
        raise ValueError(f"address {text!r}: port {number} is not a UDP port (1-65535)")
    return host or "127.0.0.1", number


class Actuator(Sink):
    """Base of the actuators: `send(payload)` does the I/O; the rest is shared.

    Each command becomes a payload {action, value, safety, t_origin, t_sent, ...extra}
    where t_sent is the host monotonic time of sending (the clock of t_origin). Counters:
    sent, errors, safe_sent. `latency` holds now - t_origin at each send;
    `last_latencies_s` the newest values.

    Safe state: with a safe command (its own, or the gate's that feeds it), the actuator
    sends it when the graph starts or the actuator restarts (safety 'actuator:start'),
    and before it closes unless the last command it sent was already the safe one
    ('actuator:stop'); on a stop it first waits briefly for the gate's own. The device
    must still keep its own deadman: nothing can send for a process killed outright.
    """

    inputs = {"in": Port(COMMAND, "commands to send")}
    outputs: dict[str, Port] = {}
    Params = ActuatorParams
    default_on_failure = "restart"
    inherits_safe_command = True
    stop_drain_s = 0.5

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.latency = Histogram()
        self.last_latencies_s: collections.deque[float] = collections.deque(maxlen=LAST_LATENCIES)
        hb = self.params.heartbeat_ms
        self.tick_interval_s = hb / 2e3 if hb else None  # per instance, like the gate's watchdog
        self._last: dict | None = None    # the last payload sent, for the heartbeat
        self._t_last = -math.inf
        self._safe_last = False           # whether that payload was the safe command

    def _deliver(self, payload: dict) -> bool:
        """Send one payload; False if it did not go (counted)."""
        try:
            if self.send(payload) is False:
                return False
        except Exception as exc:  # noqa: BLE001 - a failed send is counted, the stream goes on
            self.count("errors")
            if self.counters["errors"] == 1 or self.counters["errors"] % 100 == 0:
                log.error("%s: sending %r failed (%d errors so far): %s", self.name,
                          payload.get("action"), self.counters["errors"], exc)
            return False
        self._last, self._t_last = payload, now()
        self._safe_last = self.params.safe_action is not None and payload.get("action") == self.params.safe_action \
            and payload.get("value") == self.params.safe_value
        return True

    def send_safe(self, why: str) -> bool:
        """Send the safe command (if this actuator has one) on its own account."""
        p = self.params
        if p.safe_action is None:
            return False
        t = now()
        if self._deliver({"action": p.safe_action, "value": p.safe_value, "safety": f"actuator:{why}",
                          "t_origin": t, "t_sent": t}):
            self.count("safe_sent")
            return True
        return False

    def on_go(self) -> None:
        self.send_safe("start")

    def on_stop(self) -> None:
        if not self._safe_last:
            self.send_safe("stop")

    def tick(self) -> None:
        hb = self.params.heartbeat_ms
        if hb and self._last is not None and (now() - self._t_last) * 1e3 >= hb:
            if self._deliver({**self._last, "t_sent": now(), "heartbeat": True}):
                self.count("heartbeats")

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
        if not self._deliver(self.payload(msg, now())):
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
