"""ZeroMQ, UDP and OSC actuators against real sockets on the loopback interface."""
from __future__ import annotations

import json
import socket
import struct

import msgpack
import pytest
import zmq

from nodes.actions.actuators.osc_codec import encode_message
from nodes.actions.actuators.osc_out import OscActuator
from nodes.actions.actuators.udp_out import UdpActuator
from nodes.actions.actuators.zmq_out import ZmqActuator
from streamer.streams import command, now
from streamer.testing import feed

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def udp_rx():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    yield s
    s.close()


def test_zmq_pub_msgpack_reaches_subscriber():
    port = free_port()
    node = ZmqActuator(endpoint=f"tcp://127.0.0.1:{port}", format="msgpack", topic="cmd")
    node.start()
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"cmd")
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(f"tcp://127.0.0.1:{port}")
    try:
        # PUB drops messages until the subscription has propagated: send until one arrives.
        t0 = now()
        got = None
        while got is None and now() - t0 < 3:
            feed(node, [command("move", 0.25, safety="passed", t_origin=t0)], finish=False)
            if sub.poll(50):
                got = sub.recv_multipart()
        assert got is not None, "no command reached the subscriber"
        topic, body = got
        item = msgpack.unpackb(body)
        assert topic == b"cmd"
        assert (item["action"], item["value"], item["safety"]) == ("move", 0.25, "passed")
        assert item["t_origin"] == t0 and t0 <= item["t_sent"] <= now()
        assert node.counters["sent"] >= 1 and node.counters["errors"] == 0
        assert node.last_latencies_s[-1] >= 0 and node.latency.total() == node.counters["sent"]
    finally:
        sub.close()
        node.stop()


def test_zmq_push_json_and_drop_without_peer():
    port = free_port()
    node = ZmqActuator(endpoint=f"tcp://127.0.0.1:{port}", socket="push")
    node.start()
    try:
        feed(node, [command("left", t_origin=now())], finish=False)
        assert node.counters["dropped"] == 1 and node.counters["sent"] == 0
        pull = zmq.Context.instance().socket(zmq.PULL)
        pull.setsockopt(zmq.LINGER, 0)
        pull.connect(f"tcp://127.0.0.1:{port}")
        deadline = now() + 3
        while now() < deadline and not pull.poll(10):
            feed(node, [command("right", [1, 2], t_origin=now())], finish=False)
        item = json.loads(pull.recv())
        assert item["action"] == "right" and item["value"] == [1, 2]
        pull.close()
    finally:
        node.stop()


def test_zmq_endpoint_in_use_is_a_clear_error():
    port = free_port()
    a = ZmqActuator(endpoint=f"tcp://127.0.0.1:{port}")
    a.start()
    try:
        with pytest.raises(RuntimeError, match="in use"):
            ZmqActuator(endpoint=f"tcp://127.0.0.1:{port}").start()
    finally:
        a.stop()


def test_udp_json_datagrams(udp_rx):
    node = UdpActuator(address=f"127.0.0.1:{udp_rx.getsockname()[1]}")
    node.start()
    t0 = now()
    feed(node, [command("left", 1, t_origin=t0), command("stop", t_origin=t0)], finish=False)
    items = [json.loads(udp_rx.recv(65536)) for _ in range(2)]
    assert [(i["action"], i["value"]) for i in items] == [("left", 1), ("stop", None)]
    assert all(i["t_sent"] >= t0 for i in items)
    # A value that cannot be encoded is counted as an error; the node keeps going.
    feed(node, [command("left", object(), t_origin=t0), command("right", 2, t_origin=t0)], finish=False)
    assert json.loads(udp_rx.recv(65536))["action"] == "right"
    assert node.counters["sent"] == 3 and node.counters["errors"] == 1
    node.stop()


def test_osc_bytes_follow_the_spec():
    # OSC 1.0: padded address, padded type tags ",if", int32 1 and float32 0.5, big-endian.
    expected = (b"/streamer/move\0\0" + b",if\0" + b"\x00\x00\x00\x01" + struct.pack(">f", 0.5))
    assert encode_message("/streamer/move", [1, 0.5]) == expected
    assert encode_message("/a", None) == b"/a\0\0,\0\0\0"  # no arguments: tag string "," only
    assert encode_message("/abc", "hi") == b"/abc\0\0\0\0,s\0\0hi\0\0"  # 4-char address: 4 NULs
    with pytest.raises(ValueError, match="start with"):
        encode_message("nope", 1)


def test_osc_over_udp_decoded_by_python_osc(udp_rx):
    osc_message = pytest.importorskip("pythonosc.osc_message")
    node = OscActuator(address=f"127.0.0.1:{udp_rx.getsockname()[1]}", address_prefix="/robot")
    node.start()
    feed(node, [command("move", [1, -0.25, "fast", True], t_origin=now()),
                command("stop", t_origin=now()), command("big", 2**40, t_origin=now())], finish=False)
    msgs = [osc_message.OscMessage(udp_rx.recv(65536)) for _ in range(3)]
    assert msgs[0].address == "/robot/move" and msgs[0].params == [1, -0.25, "fast", True]
    assert msgs[1].address == "/robot/stop" and msgs[1].params == []
    assert msgs[2].params == [2**40]
    assert node.counters["sent"] == 3
    node.stop()
