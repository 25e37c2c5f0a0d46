"""actions.gate, the last node before an actuator, under arbitrary messages on both ports
(any stream type, items that are not maps, origin times that are not times) and a clock
that jumps: it never raises, nothing leaves on `out` but the safe command or an allowed
action whose value lies within its bounds (as sent, or clamped) inside the rate limit, and
every command is either passed or blocked, each block counted with its reason."""
from __future__ import annotations

import math
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from nodes.actions import gate as gate_module
from nodes.actions.gate import Gate
from streamer import streams, wire
from streamer.node import emitted
from streamer.streams import COMMAND, STREAM_TYPES, Message
from tests.message_strategies import PLAIN, command_items, decision_items, marker_items

PARAMS = [
    {"allow": ["left", "right"], "bounds": {"left": [0, 1]}, "max_rate_hz": 5},
    {"allow": ["move", "grip"], "bounds": {"move": [-1, 1], "grip": [0, 0.5]}, "out_of_bounds": "clamp",
     "max_rate_hz": 20, "rate_burst": 3, "on_block": "safe", "repeat_ms": 50},
    {"bounds": {"stop": [0, 0], "speed": [0, 2]}, "safe_action": "speed", "safe_value": 0, "stale_ms": 200},
    {"allow": [], "safe_action": "halt", "safe_value": [0, 0], "timeout_ms": 100},
]
SAFE_COMMANDS = {"left", "right", "move", "grip", "stop", "speed", "halt"}

ACTIONS = st.sampled_from(sorted(SAFE_COMMANDS | {"jump", "", "LEFT"}))
VALUES = st.one_of(st.floats(-3, 3), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                   st.lists(st.floats(-2, 2), max_size=3), st.just(0), st.just([0, 0]), st.booleans(), PLAIN)


@st.composite
def commands(draw) -> dict:
    item = draw(command_items())
    if draw(st.integers(0, 3)):
        item["action"] = draw(ACTIONS)
    if draw(st.integers(0, 3)):
        item["value"] = draw(VALUES)
    return item


ODD_DATA = st.one_of(PLAIN, st.binary(max_size=4), st.just(np.zeros(3)), st.just({1: "not a string key"}),
                     st.just({"action": "left", "value": {1, 2}}), st.just({"action": "x" * 300}),
                     st.just({"action": "left", "value": 2 ** 64 - 1}), st.just({"action": None}))
T_ODD = st.sampled_from([None, "now", [1.0], math.nan, math.inf, -math.inf, True, 1e300, -1e300])


@st.composite
def any_message(draw, now: float) -> Message:
    """A command usually, anything a Message can hold sometimes."""
    kind = draw(st.integers(0, 9))
    if kind < 6:
        stream, data = COMMAND, draw(commands())
    elif kind < 8:
        stream = draw(st.sampled_from(STREAM_TYPES + ("Bogus", "")))
        data = draw(st.one_of(commands(), decision_items(), marker_items(), ODD_DATA))
    else:
        stream = draw(st.sampled_from(STREAM_TYPES))
        data = draw(st.one_of(st.just(np.zeros((2, 3), np.float32)), ODD_DATA))
    age = draw(st.sampled_from([0.0, 0.0, 0.001, 0.05, 0.3, 5.0, -0.5, -10.0]))
    t_origin = draw(st.one_of(st.just(now - age), st.just(now - age), T_ODD))
    meta = draw(st.one_of(st.just({}), st.dictionaries(st.text(max_size=3), PLAIN, max_size=2), st.just([1])))
    return Message(stream, data, meta, t_origin)


def same(a, b) -> bool:
    return type(a) is type(b) and a == b


def check(gate: Gate, sent: list[tuple[float, str, Message]], outs: list[tuple[float, str, Message]]) -> None:
    """The gate's promises over one run: `sent` the inputs on 'in', `outs` what it emitted."""
    p = gate.params
    allow = None if p.allow is None else set(p.allow)
    passed = []
    for t, port, m in outs:
        streams.validate(m)
        assert m.stream == COMMAND
        wire.decode(wire.encode(m, 0, 0, b"g"))  # it can be sent
        item = m.data
        if port == "blocked":
            assert item["safety"].startswith("blocked:") and item["reason"]
            continue
        if item["safety"].startswith("watchdog:"):
            assert item["action"] == p.safe_action and same(item["value"], p.safe_value)
            continue
        assert item["safety"] == "passed", item
        if item["action"] == p.safe_action and same(item["value"], p.safe_value):
            continue  # the safe command always passes
        passed.append(t)
        assert allow is None or item["action"] in allow
        if item["action"] in p.bounds:
            lo, hi = p.bounds[item["action"]]
            v = np.asarray(item["value"], np.float64)
            assert v.size and np.all(np.isfinite(v)) and np.all((lo <= v) & (v <= hi)), item
    # the rate limit: at most burst + rate x elapsed in any stretch of time
    if p.max_rate_hz is not None:
        for i in range(len(passed)):
            for j in range(i, len(passed)):
                assert j - i + 1 <= p.rate_burst + p.max_rate_hz * (passed[j] - passed[i]) + 1e-9
    # every command on 'in' passed or was blocked, and each block is counted with its reason
    blocked = [m for _, port, m in outs if port == "blocked"]
    n_blocked = sum(v for k, v in gate.counters.items() if k.startswith("blocked_"))
    assert n_blocked == len(blocked)
    for reason in {m.data["safety"].split(":", 1)[1] for m in blocked}:
        assert gate.counters[f"blocked_{reason}"] == sum(m.data["safety"] == f"blocked:{reason}" for m in blocked)
    assert gate.counters["passed"] + n_blocked == len(sent)


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(params=st.sampled_from(PARAMS), data=st.data())
def test_the_gate_lets_through_only_what_it_promises(params, data):
    clock = [1000.0]
    with mock.patch.object(gate_module, "now", lambda: clock[0]):
        gate = Gate(**params)
        gate.start()
        outs: list[tuple[float, str, Message]] = []
        sent = []

        def take(out) -> None:
            outs.extend((clock[0], port, m) for port, m in emitted(gate, out))

        take(gate.on_go())
        for _ in range(data.draw(st.integers(1, 30))):
            clock[0] += data.draw(st.sampled_from([0.0, 0.0, 1e-4, 0.01, 0.1, 0.5, 3.0]))
            action = data.draw(st.sampled_from(["in", "in", "in", "heartbeat", "tick"]))
            if action == "tick":
                take(gate.tick())
                continue
            msg = data.draw(any_message(clock[0]))
            if action == "in":
                sent.append(msg)
            take(gate.receive(action, msg))
        take(gate.finish())
        take(gate.on_stop())
    check(gate, sent, outs)


def test_a_command_with_the_safe_action_but_another_value_is_checked_like_any():
    gate = Gate(safe_action="speed", safe_value=0, bounds={"speed": [0, 2]})
    gate.start()
    t = streams.now()
    out = _by_port(gate, [streams.command("speed", 0, t_origin=t), streams.command("speed", 9, t_origin=t),
                          streams.command("speed", 1, t_origin=t)])
    assert [m.data["value"] for m in out["out"]] == [0, 1]
    assert out["blocked"][0].data["value"] == 9 and out["blocked"][0].data["safety"] == "blocked:out_of_bounds"


def test_a_malformed_message_is_blocked_as_a_command_that_can_be_sent():
    gate = Gate(allow=["left"])
    gate.start()
    for msg in (Message("Events", {"action": "left"}, [1], "yesterday"), Message("Bogus", np.zeros(3), {}, 1.0),
                Message(COMMAND, ["left"], {}, streams.now()), Message(COMMAND, {"action": "left"}, {}, -math.inf)):
        (port, out), = emitted(gate, gate.receive("in", msg))
        assert port == "blocked" and out.stream == COMMAND and out.data["safety"] == "blocked:malformed"
        streams.validate(out)
        wire.decode(wire.encode(out, 0, 0, b"g"))
    assert gate.counters["blocked_malformed"] == 4


def _by_port(gate: Gate, msgs: list[Message]) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    for m in msgs:
        for port, o in emitted(gate, gate.receive("in", m)):
            out.setdefault(port, []).append(o)
    return out
