"""A safety gate between decoders and actuators: only allowed, bounded, paced and fresh
commands pass, and a watchdog sends the safe command when the upstream falls silent,
goes stale or ends."""
from __future__ import annotations

import logging
import math
from numbers import Real
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer.node import Port, Transform
from streamer import streams
from streamer.streams import ANY, COMMAND, Message, command, now

log = logging.getLogger(__name__)

# The watchdog looks this many times per timeout, so it fires between 7/8 and 8/8 of it.
TICKS_PER_TIMEOUT = 8
# A command whose origin time lies further ahead than this was not made on this host.
FUTURE_S = 1.0


def _numeric(v: Any, depth: int = 0) -> bool:
    """A number (not a bool, not a string) or a list of them, as bounds apply to."""
    if isinstance(v, Real) and not isinstance(v, bool):
        return True
    return isinstance(v, (list, tuple)) and depth < 3 and all(_numeric(x, depth + 1) for x in v)


def _same(a: Any, b: Any) -> bool:
    """Equal and of one type: the safe value 0 is not False, nor 0.0 a list."""
    return type(a) is type(b) and a == b


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


class Gate(Transform):
    """Safety gate: whitelist, value bounds, rate limit, staleness check and watchdog.

    A command on `in` passes (safety='passed') only if its action is in `allow`, its value
    lies within `bounds` of that action, the rate limit leaves room and its t_origin is
    younger than `stale_ms`. Otherwise it is blocked: logged with the reason, counted as
    blocked_<reason> (not_allowed, out_of_bounds, bad_value, rate, stale) and sent on
    `blocked` with safety='blocked:<reason>'. The safe command always passes.

    Watchdog: once fresh input has come (`watchdog_from: first_input`, the default: a
    decoder may compile for longer than the timeout, and the gate is safe until then) or from
    the graph's start (`watchdog_from: start`), when nothing fresh has arrived on `in` or
    `heartbeat` for `timeout_ms` (a decoder stopped or died), when a stale message arrives, or when every upstream has
    ended, the gate sends the safe command once (safety='watchdog:<reason>', counted as
    watchdog_<reason>) and again every `repeat_ms` if set, until fresh data resumes.
    Connect `heartbeat` to any stream that shows the decoder is alive (its decisions):
    commands alone are rare when the decoder holds its state.

    The gate owns the safe state at the edges of a run too: it sends the safe command
    when the graph starts or the gate restarts (watchdog:start) and when the run is
    stopped for any reason (watchdog:stop). A command that is not a well-formed Command
    (not a map, no action, a value that is not plain data, an unknown origin time) is
    blocked as `malformed`; nothing a message holds makes the gate fail.

    Operator control on `control` (the console's emergency stop and pause): `estop` sends
    the safe command at once (safety='estop') and latches: every command but the safe one
    is blocked (blocked_estop) until `rearm` with value 'confirmed'; `pause` does the same
    until `resume` (blocked_paused). The counter `actuation` shows estop, paused or armed once an operator has acted.
    Edges into `control` are not waited for at the end of a run.
    """

    inputs = {"in": Port(COMMAND, "commands to check"),
              "heartbeat": Port(ANY, "any stream whose arrival shows the upstream is alive"),
              "control": Port(COMMAND, "operator control: estop, rearm ('confirmed'), pause, resume")}
    control_inputs = ("control",)
    outputs = {"out": Port(COMMAND, "commands that passed, and the watchdog's safe commands"),
               "blocked": Port(COMMAND, "blocked commands, safety='blocked:<reason>'")}
    safe_port = "out"
    default_on_failure = "restart"

    class Params(streamer.node.Params):
        allow: list[str] | None = Field(
            None, description="actions let through; null lets every action through "
                              "(bounds and rate limit still apply)")
        bounds: dict[str, tuple[float, float]] = Field(
            default_factory=dict, description="{action: [min, max]} for numeric values")
        out_of_bounds: Literal["block", "clamp"] = Field(
            "block", description="block a value outside its bounds, or clamp it into them")
        max_rate_hz: float | None = Field(None, gt=0, description="commands per second at most")
        rate_burst: int = Field(1, ge=1, description="commands allowed back to back by the rate limit")
        safe_action: str = Field("stop", description="action of the safe command")
        safe_value: Any = Field(None, description="value of the safe command")
        timeout_ms: float = Field(500.0, gt=0,
                                  description="send the safe command after this long without fresh input")
        stale_ms: float | None = Field(
            None, gt=0, description="input whose t_origin is older than this is stale; "
                                    "default: timeout_ms")
        repeat_ms: float | None = Field(
            None, gt=0, description="repeat the safe command this often while tripped (lossy links)")
        watchdog_from: Literal["first_input", "start"] = Field(
            "first_input", description="count the timeout from the first fresh input (the decoder has "
                                       "loaded and compiled; safe until then) or from the graph's start")
        on_block: Literal["drop", "safe"] = Field(
            "drop", description="after a blocked command: only drop it, or also send the safe command")

        @model_validator(mode="after")
        def _check(self) -> "Gate.Params":
            for action, (lo, hi) in self.bounds.items():
                if not lo <= hi:
                    raise ValueError(f"bounds of {action!r}: min {lo} is above max {hi}")
            if self.allow is not None and self.safe_action not in self.allow:
                self.allow = [*self.allow, self.safe_action]
            return self

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        # The runtime reads this per instance: the watchdog's resolution follows the timeout.
        self.tick_interval_s = p.timeout_ms / TICKS_PER_TIMEOUT / 1e3
        self._stale_s = (p.timeout_ms if p.stale_ms is None else p.stale_ms) / 1e3
        self._reset()

    def _reset(self) -> None:
        self._alive = now()
        self._ticking = False
        self._armed = self.params.watchdog_from == "start"  # the timeout counts once armed
        self.tripped: str | None = None  # reason of the watchdog trip, None while live
        self._t_safe = -math.inf
        self._tokens = float(self.params.rate_burst)
        self._t_tokens = now()
        self.latch: str | None = None  # "estop" or "paused": nothing but the safe command passes
        if "actuation" in self.counters:  # shown once an operator has acted
            self.counters["actuation"] = "armed"

    @classmethod
    def safe_command(cls, params: "Gate.Params") -> tuple[str, Any]:
        return params.safe_action, params.safe_value

    @classmethod
    def check_input(cls, params: "Gate.Params", port: str, sent: Port) -> list[str]:
        """Commands the sender declares (an actions.map's table) that this gate would block
        every time: an action outside `allow`, a value outside `bounds`."""
        if port != "in":
            return []
        out: list[str] = []
        for action, value in sent.commands or []:
            reason = cls.always_blocks(params, action, value)
            message = f"every {action!r} command of value {_short(value)} would be blocked: {reason}"
            if reason and message not in out:
                out.append(message)
        return out

    @classmethod
    def always_blocks(cls, params: "Gate.Params", action: str, value: Any) -> str:
        """Why this command would never pass, whatever its timing ('' if it may pass)."""
        p = params
        if action == p.safe_action:
            return ""
        if p.allow is not None and action not in p.allow:
            return f"{action!r} is not in the gate's allow list {p.allow}; add it there or send an allowed action"
        if action not in p.bounds:
            return ""
        lo, hi = p.bounds[action]
        try:
            arr = np.asarray(value, dtype=np.float64) if _numeric(value) else np.empty(0)
        except ValueError:  # a ragged list
            arr = np.empty(0)
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            return (f"the gate bounds {action!r} to [{lo}, {hi}] and the value is not a finite number; "
                    "give the command a numeric value or remove its bounds")
        if p.out_of_bounds == "block" and not np.all((arr >= lo) & (arr <= hi)):
            return (f"the value lies outside the gate's bounds [{lo}, {hi}] for {action!r}; "
                    "change the value or the bounds (or set out_of_bounds: clamp)")
        return ""

    def start(self) -> None:
        if self.params.allow is None:
            log.warning("%s: no `allow` list, every action may pass", self.name)
        self._reset()

    def on_go(self) -> Message:
        return self._safe("start")

    def on_stop(self) -> Message:
        return self._safe("stop")

    # -- watchdog ---------------------------------------------------------------------
    def _safe(self, reason: str) -> Message:
        self.count(f"watchdog_{reason}")
        self._t_safe = now()
        log.warning("%s: sending safe command %r (%s)", self.name, self.params.safe_action, reason)
        return command(self.params.safe_action, self.params.safe_value,
                       safety=f"watchdog:{reason}", t_origin=self._t_safe)

    def _trip(self, reason: str) -> Message | None:
        if self.tripped is not None:
            return None
        self.tripped = reason
        return self._safe(reason)

    def _live(self, t: float) -> None:
        self._alive = t
        self._armed = True
        if self.tripped is not None:
            log.info("%s: fresh input again after %s", self.name, self.tripped)
            self.tripped = None

    def tick(self) -> Message | None:
        t = now()
        if not self._ticking:
            # The first tick comes one interval after the graph starts: the watchdog counts
            # from then, not from this process's start (other nodes may take seconds to load).
            self._ticking = True
            self._alive = max(self._alive, t - self.tick_interval_s)
        if not self._armed:
            # Nothing has come yet (decoders may compile for longer than timeout_ms): the
            # safe command went out at the start and nothing else can pass, so only repeat it.
            if self.params.repeat_ms is not None and (t - self._t_safe) * 1e3 >= self.params.repeat_ms:
                return self._safe("start")
            return None
        if self.tripped is None:
            # Fire at the last tick before the deadline, so never later than timeout_ms.
            if t - self._alive + self.tick_interval_s > self.params.timeout_ms / 1e3:
                return self._trip("timeout")
        elif self.params.repeat_ms is not None and (t - self._t_safe) * 1e3 >= self.params.repeat_ms:
            return self._safe(self.tripped)
        return None

    def finish(self) -> Message | None:
        self.tripped = None
        return self._trip("end")

    # -- checks -----------------------------------------------------------------------
    def _block(self, msg: Message, reason: str, detail: str, t_origin: float) -> dict[str, Message]:
        item = msg.data if isinstance(msg.data, dict) else {}
        self.count(f"blocked_{reason}")
        log.warning("%s: blocked %s value=%s: %s (%s)", self.name, _short(item.get("action")),
                    _short(item.get("value")), reason, detail)
        if reason == "malformed":
            # only what can be shown safely goes on, as a Command whatever came in (its
            # stream type, metadata or origin time may be what could not be sent)
            shown = {"action": _short(item.get("action")), "value": _short(item.get("value")),
                     "safety": f"blocked:{reason}", "reason": detail}
            blocked = Message(COMMAND, shown, {}, t_origin if math.isfinite(t_origin) else math.nan)
        else:
            blocked = msg.with_data({**item, "safety": f"blocked:{reason}", "reason": detail})
        out = {"blocked": blocked}
        if reason == "stale" or self.params.on_block == "safe":
            safe = self._trip(reason) if reason == "stale" else self._safe(f"blocked_{reason}")
            if safe is not None:
                out["out"] = safe
        return out

    def _check_value(self, action: str, value: Any) -> tuple[str, str, Any]:
        """('', '', value) if fine (value possibly clamped), else (reason, detail, value)."""
        lo, hi = self.params.bounds[action]
        if not _numeric(value):
            return "bad_value", f"value {_short(value)} is not a number or a list of numbers but {action!r} has bounds", value
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return "bad_value", f"value {_short(value)} is not a regular array of numbers", value
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            return "bad_value", f"value {value!r} is empty or not finite", value
        if np.all((arr >= lo) & (arr <= hi)):
            return "", "", value
        if self.params.out_of_bounds == "block":
            return "out_of_bounds", f"value {value!r} outside [{lo}, {hi}]", value
        clamped = np.clip(arr, lo, hi)
        self.count("clamped")
        return "", "", float(clamped) if arr.ndim == 0 else clamped.tolist()

    def _take_token(self, t: float) -> bool:
        p = self.params
        self._tokens = min(p.rate_burst, self._tokens + (t - self._t_tokens) * p.max_rate_hz)
        self._t_tokens = t
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    # -- operator control -------------------------------------------------------------
    def _control(self, msg: Message) -> Message | None:
        item = msg.data if isinstance(msg.data, dict) else {}
        action, value = item.get("action"), item.get("value")
        if action == "estop" or (action == "pause" and self.latch is None):
            if self.latch == "estop":
                return None  # already latched: the console repeats it in case we restarted
            self.latch = "estop" if action == "estop" else "paused"
            self.counters["actuation"] = self.latch
            self.count(action)
            log.warning("%s: %s by the operator: safe command %r, nothing passes until %s", self.name,
                        "emergency stop" if action == "estop" else "actuation paused", self.params.safe_action,
                        "re-armed" if action == "estop" else "resumed")
            self._t_safe = now()
            return command(self.params.safe_action, self.params.safe_value, safety=self.latch,
                           t_origin=self._t_safe)
        if (action == "rearm" and self.latch == "estop" and value == "confirmed") or \
                (action == "resume" and self.latch == "paused"):
            log.warning("%s: %s by the operator", self.name, "re-armed" if action == "rearm" else "resumed")
            self.latch = None
            self.counters["actuation"] = "armed"
            self.count(action)
            return None
        self.count("control_ignored")
        log.warning("%s: control %s value=%s ignored (actuation %s; re-arming needs value 'confirmed')",
                    self.name, _short(action), _short(value), self.latch or "armed")
        return None

    def receive(self, port: str, msg: Message) -> Any:
        if port == "control":
            return self._control(msg)
        t = now()
        t_origin = float(msg.t_origin) if isinstance(msg.t_origin, (int, float)) else math.nan
        stale = math.isfinite(t_origin) and t - t_origin > self._stale_s
        if port != "in":  # heartbeat
            if stale:
                self.count("stale_heartbeat")
                return self._trip("stale")
            self._live(t)
            return None
        p = self.params
        try:
            streams.validate(msg)
            if msg.stream != COMMAND:
                raise streams.InvalidMessage(f"a {msg.stream} message is not a Command")
        except streams.InvalidMessage as exc:
            return self._block(msg, "malformed", str(exc), t_origin)
        if not math.isfinite(t_origin) or t_origin > t + FUTURE_S:
            return self._block(msg, "malformed", f"t_origin {_short(msg.t_origin)} is not a time of this host",
                               t_origin)
        item = msg.data
        action = item["action"]
        if stale:
            return self._block(msg, "stale", f"t_origin {1e3 * (t - t_origin):.1f} ms old "
                                             f"> stale_ms {1e3 * self._stale_s:.1f}", t_origin)
        self._live(t)
        value = item.get("value")
        # The safe command passes whatever the limits; the safe action with another value
        # is a command like any other.
        if not (action == p.safe_action and _same(value, p.safe_value)):
            if self.latch is not None:
                return self._block(msg, self.latch, f"actuation {self.latch} by the operator", t_origin)
            if p.allow is not None and action not in p.allow:
                return self._block(msg, "not_allowed", f"{action!r} is not in allow {p.allow}", t_origin)
            if action in p.bounds:
                reason, detail, value = self._check_value(action, value)
                if reason:
                    return self._block(msg, reason, detail, t_origin)
            if p.max_rate_hz is not None and not self._take_token(t):
                return self._block(msg, "rate", f"more than {p.max_rate_hz} commands/s", t_origin)
        self.count("passed")
        return {"out": msg.with_data({**item, "value": value, "safety": "passed"})}
