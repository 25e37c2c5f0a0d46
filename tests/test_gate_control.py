"""actions.gate under the operator's control (the console's emergency stop, pause and
re-arm) and its watchdog armed by the first input."""
from __future__ import annotations

import time

from streamer.streams import command, now
from tests.test_actions_gate import send, started


def op(action: str, value=None):
    return command(action, value, safety="operator", t_origin=now())


def test_estop_sends_safe_command_and_latches_until_confirmed_rearm():
    g = started(allow=["left"], safe_action="halt", safe_value=0)
    assert send(g, command("left", t_origin=now()))["out"][0].data["safety"] == "passed"
    out = send(g, op("estop"), port="control")
    assert [(m.data["action"], m.data["value"], m.data["safety"]) for m in out["out"]] == [("halt", 0, "estop")]
    assert g.counters["actuation"] == "estop"
    assert send(g, op("estop"), port="control") == {}  # repeated: no second safe command
    out = send(g, command("left", t_origin=now()), command("halt", 0, t_origin=now()))
    assert [m.data["safety"] for m in out["blocked"]] == ["blocked:estop"]
    assert [m.data["action"] for m in out["out"]] == ["halt"]  # the safe command still passes
    # Neither resume nor a re-arm without the confirmation lets anything through.
    send(g, op("resume"), op("rearm"), op("rearm", "yes"), port="control")
    assert send(g, command("left", t_origin=now()))["blocked"][0].data["safety"] == "blocked:estop"
    assert g.counters["control_ignored"] == 3
    send(g, op("rearm", "confirmed"), port="control")
    assert g.counters["actuation"] == "armed"
    assert send(g, command("left", t_origin=now()))["out"][0].data["safety"] == "passed"


def test_pause_blocks_until_resume_and_estop_overrides_it():
    g = started(allow=["left"])
    assert send(g, op("pause"), port="control")["out"][0].data["safety"] == "paused"
    assert send(g, command("left", t_origin=now()))["blocked"][0].data["safety"] == "blocked:paused"
    send(g, op("resume"), port="control")
    assert send(g, command("left", t_origin=now()))["out"][0].data["safety"] == "passed"
    send(g, op("pause"), port="control")
    assert send(g, op("estop"), port="control")["out"][0].data["safety"] == "estop"
    send(g, op("resume"), port="control")
    assert g.counters["actuation"] == "estop"


def test_watchdog_waits_for_the_first_input_by_default():
    """A decoder compiling for longer than timeout_ms does not trip the gate at start."""
    g = started(timeout_ms=40)
    t_end = now() + 0.2
    fired = []
    while now() < t_end:
        if (m := g.tick()) is not None:
            fired.append(m)
        time.sleep(g.tick_interval_s)
    assert fired == []
    send(g, command("stop", t_origin=now()))
    t_end = now() + 0.2
    while now() < t_end and not fired:
        if (m := g.tick()) is not None:
            fired.append(m)
        time.sleep(g.tick_interval_s)
    assert [m.data["safety"] for m in fired] == ["watchdog:timeout"]
