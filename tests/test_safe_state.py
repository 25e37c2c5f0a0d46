"""The safe state at the edges of a run, node by node: the gate sends its safe command when
the graph starts and stops and blocks what is not a well-formed command; an actuator takes
the safe command of the gate that feeds it, sends it when it starts and before it closes,
and keeps a device's deadman fed with a heartbeat."""
from __future__ import annotations

import json
import math
import socket
import time

import pytest

from nodes.actions.actuators.udp_out import UdpActuator
from nodes.actions.gate import Gate
from streamer.graph import GraphError, parse_graph
from streamer.streams import COMMAND, Message, command, now
from streamer.testing import feed
from tests.test_actuators_net import udp_rx  # noqa: F401 - the fixture


def received(sock: socket.socket, n: int) -> list[dict]:
    return [json.loads(sock.recvfrom(65536)[0]) for _ in range(n)]


def nothing_more(sock: socket.socket) -> bool:
    sock.settimeout(0.2)
    try:
        sock.recvfrom(65536)
    except socket.timeout:
        return True
    return False


def test_the_gate_sends_its_safe_command_when_the_graph_starts_and_stops():
    g = Gate(safe_action="halt", safe_value=0, allow=["left"])
    g.start()
    go, stop = g.on_go(), g.on_stop()
    assert [(m.data["action"], m.data["value"], m.data["safety"]) for m in (go, stop)] == [
        ("halt", 0, "watchdog:start"), ("halt", 0, "watchdog:stop")]
    assert g.counters["watchdog_start"] == 1 and g.counters["watchdog_stop"] == 1


@pytest.mark.parametrize("item,t_origin,reason", [
    ([1, 2], None, "malformed"),                       # crashed the gate with AttributeError
    ({"value": 1}, None, "malformed"),                 # no action
    ({"action": 5}, None, "malformed"),                # action not a string
    ({"action": "speed", "value": object()}, None, "malformed"),
    ({"action": "speed", "value": 0.5}, math.nan, "malformed"),   # origin unknown
    ({"action": "speed", "value": 0.5}, 1e12, "malformed"),       # from the future
    ({"action": "speed", "value": "0.5"}, None, "bad_value"),     # numeric text is not a number
    ({"action": "speed", "value": True}, None, "bad_value"),
    ({"action": "speed", "value": [[0.1], [0.2, 0.3]]}, None, "bad_value"),
])
def test_the_gate_blocks_what_is_not_a_well_formed_command(item, t_origin, reason):
    g = Gate(allow=["speed"], bounds={"speed": (0.0, 1.0)})
    g.start()
    out = feed(g, [Message(COMMAND, item, {}, now() if t_origin is None else t_origin)], finish=False)
    assert "out" not in out
    assert out["blocked"][0].data["safety"] == f"blocked:{reason}"
    assert g.counters[f"blocked_{reason}"] == 1


def test_an_actuator_fed_by_a_gate_takes_its_safe_command():
    graph = parse_graph("""
nodes:
  beat: {type: util.counter}
  gate: {type: actions.gate, safe_action: halt, safe_value: 0, allow: [go]}
  out:  {type: actuators.udp}
  refused: {type: actuators.log}
  own:  {type: actuators.log, safe_action: brake, safe_value: 1}
edges: [beat -> gate.heartbeat, gate -> out, gate.blocked -> refused, gate -> own]
""")
    assert (graph.nodes["out"].params["safe_action"], graph.nodes["out"].params["safe_value"]) == ("halt", 0)
    assert "safe_action" not in graph.nodes["refused"].params  # blocked commands are not its to make safe
    assert graph.nodes["own"].params["safe_action"] == "brake"


def test_runtime_keys_of_earlier_releases_say_what_to_write():
    with pytest.raises(GraphError) as exc:
        parse_graph("""
nodes:
  beat: {type: util.counter, restart: on-failure}
  rec: {type: record, path: x.rec, port: 5555}
  udp: {type: actuators.udp, address: "127.0.0.1:9000"}
edges: [beat -> rec, beat -> udp]
""")
    text = str(exc.value)
    assert "write `on_failure: restart" in text and "write `tcp_port`" in text


@pytest.mark.integration
def test_an_actuator_is_safe_when_it_starts_and_before_it_closes(udp_rx):
    port = udp_rx.getsockname()[1]
    a = UdpActuator(address=f"127.0.0.1:{port}", safe_action="stop", safe_value=0)
    a.start()
    a.on_go()
    feed(a, [command("left", 1, safety="passed")], finish=False)
    a.on_stop()
    rows = received(udp_rx, 3)
    assert [(r["action"], r["safety"]) for r in rows] == [
        ("stop", "actuator:start"), ("left", "passed"), ("stop", "actuator:stop")]
    # the gate's safe command already reached it: it does not send its own again
    feed(a, [command("stop", 0, safety="watchdog:stop")], finish=False)
    a.on_stop()
    assert received(udp_rx, 1)[0]["safety"] == "watchdog:stop" and nothing_more(udp_rx)
    a.stop()
    assert a.counters["safe_sent"] == 2 and a.counters["sent"] == 2


@pytest.mark.integration
def test_the_heartbeat_repeats_the_last_command_while_nothing_new_comes(udp_rx):
    port = udp_rx.getsockname()[1]
    a = UdpActuator(address=f"127.0.0.1:{port}", heartbeat_ms=50)
    a.start()
    assert a.tick_interval_s == pytest.approx(0.025)
    feed(a, [command("left", 1, safety="passed")], finish=False)
    t_end = now() + 0.4
    while now() < t_end:  # as the runtime calls tick()
        a.tick()
        time.sleep(a.tick_interval_s)
    a.stop()
    rows = received(udp_rx, 1 + a.counters["heartbeats"])
    beats = rows[1:]
    assert 3 <= len(beats) <= 8, len(beats)  # every 50 ms, give or take a busy machine
    assert all(r["action"] == "left" and r["heartbeat"] is True for r in beats)
    assert all(b["t_sent"] - a_["t_sent"] >= 0.045 for a_, b in zip(rows, rows[1:]))
