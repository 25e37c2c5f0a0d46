"""actions.gate: whitelist, bounds, rate limit, staleness and the watchdog's timing."""
from __future__ import annotations

import logging
import time

import pytest

from nodes.actions.gate import Gate
from streamer.streams import command, marker, now
from streamer.testing import feed


def started(**params) -> Gate:
    g = Gate(**params)
    g.start()
    return g


def send(g: Gate, *msgs, port: str = "in"):
    return feed(g, [(port, m) for m in msgs], finish=False)


def test_whitelist_blocks_logs_and_counts(caplog):
    g = started(allow=["left", "right"])
    with caplog.at_level(logging.WARNING, logger="nodes.actions.gate"):
        out = send(g, command("left", t_origin=now()), command("jump", 3, t_origin=now()))
    assert [m.data["action"] for m in out["out"]] == ["left"]
    assert out["out"][0].data["safety"] == "passed"
    blocked = out["blocked"]
    assert len(blocked) == 1 and blocked[0].data["action"] == "jump"
    assert blocked[0].data["safety"] == "blocked:not_allowed"
    assert g.counters["blocked_not_allowed"] == 1 and g.counters["passed"] == 1
    assert any("jump" in r.getMessage() and "not_allowed" in r.getMessage() for r in caplog.records)


def test_bounds_block_or_clamp():
    g = started(bounds={"speed": (-1.0, 1.0)})
    out = send(g, *(command("speed", v, t_origin=now()) for v in (0.5, 2.0, -1.0, "fast", [0.2, 1.5])))
    assert [m.data["value"] for m in out["out"]] == [0.5, -1.0]
    assert [m.data["safety"] for m in out["blocked"]] == [
        "blocked:out_of_bounds", "blocked:bad_value", "blocked:out_of_bounds"]
    assert g.counters["blocked_out_of_bounds"] == 2 and g.counters["blocked_bad_value"] == 1
    g = started(bounds={"speed": (-1.0, 1.0)}, out_of_bounds="clamp")
    out = send(g, command("speed", 3.0, t_origin=now()), command("speed", [-4, 0.1], t_origin=now()))
    assert [m.data["value"] for m in out["out"]] == [1.0, [-1.0, 0.1]]
    assert g.counters["clamped"] == 2


def test_rate_limit_and_safe_command_always_passes():
    g = started(max_rate_hz=10, allow=["go"])
    t = now()
    out = send(g, *(command("go", i, t_origin=t) for i in range(5)), command("stop", t_origin=t))
    # One token at start, refilled at 10/s: in these few ms only the first "go" passes.
    assert [m.data["action"] for m in out["out"]] == ["go", "stop"]
    assert g.counters["blocked_rate"] == 4
    time.sleep(0.12)
    assert send(g, command("go", 9, t_origin=now()))["out"][0].data["value"] == 9


def test_stale_command_replaced_by_safe_command():
    g = started(stale_ms=50, safe_action="halt", safe_value=0)
    out = send(g, command("left", t_origin=now() - 0.2))
    assert out["blocked"][0].data["safety"] == "blocked:stale"
    assert [(m.data["action"], m.data["value"], m.data["safety"]) for m in out["out"]] == [
        ("halt", 0, "watchdog:stale")]
    assert g.counters["blocked_stale"] == 1 and g.counters["watchdog_stale"] == 1
    # A stale heartbeat trips it too, once, until fresh data comes back.
    g = started(stale_ms=50)
    assert send(g, marker("alive", t_origin=now() - 1), port="heartbeat")["out"][0].data["safety"] == "watchdog:stale"
    assert send(g, marker("alive", t_origin=now() - 1), port="heartbeat") == {}
    send(g, marker("alive", t_origin=now()), port="heartbeat")
    assert g.tripped is None


def run_ticks(g: Gate, until_s: float) -> list[tuple[float, object]]:
    """Call tick() every tick_interval_s, as the runtime does; (time, message) of outputs."""
    out = []
    t_end = now() + until_s
    while now() < t_end:
        m = g.tick()
        if m is not None:
            out.append((now(), m))
        time.sleep(g.tick_interval_s)
    return out


@pytest.mark.parametrize("timeout_ms", [80.0, 200.0])
def test_watchdog_fires_within_timeout(timeout_ms):
    g = started(timeout_ms=timeout_ms, safe_action="stop")
    assert g.tick_interval_s == pytest.approx(timeout_ms / 8e3)
    send(g, marker("alive", t_origin=now()), port="heartbeat")
    t_last = now()
    fired = run_ticks(g, 2.5 * timeout_ms / 1e3)
    assert len(fired) == 1, "the safe command goes out once per silence"
    t, m = fired[0]
    delay_ms = (t - t_last) * 1e3
    # At the last tick before the deadline: after 7/8 of the timeout, and not later than it
    # plus the scheduling slack of a loaded 2-core machine (tools.bench.faults measures the
    # real delays between processes).
    assert 7 / 8 * timeout_ms - 2 <= delay_ms <= timeout_ms + 60, delay_ms
    assert (m.data["action"], m.data["safety"]) == ("stop", "watchdog:timeout")
    assert g.counters["watchdog_timeout"] == 1


def test_watchdog_counts_from_the_graph_start_not_the_process_start():
    """Other nodes may take longer than timeout_ms to load: the gate, started first, must not
    send its safe command the moment the graph goes."""
    g = started(timeout_ms=100.0, safe_action="stop", watchdog_from="start")
    time.sleep(0.3)  # the rest of the graph starting
    t_go = now()
    fired = run_ticks(g, 0.3)
    assert len(fired) == 1
    assert 0.06 <= fired[0][0] - t_go <= 0.2, fired[0][0] - t_go


def test_watchdog_rearms_and_repeats():
    g = started(timeout_ms=40, repeat_ms=30, watchdog_from="start")
    fired = run_ticks(g, 0.15)  # no input at all since start: trips, then repeats
    assert 2 <= len(fired) <= 5
    gaps = [b[0] - a[0] for a, b in zip(fired, fired[1:])]
    assert all(0.025 <= gap <= 0.1 for gap in gaps), gaps  # every 30 ms, late under load
    send(g, command("left", t_origin=now()))
    assert g.tripped is None
    assert run_ticks(g, 0.02) == []  # live again: nothing within the timeout


def test_end_of_upstream_sends_safe_command():
    g = started()
    out = feed(g, [("in", command("left", t_origin=now()))], finish=True)
    assert [m.data["safety"] for m in out["out"]] == ["passed", "watchdog:end"]
