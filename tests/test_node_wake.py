"""A node woken by its own thread: the console's emergency stop leaves at once, not at
the console's next tick."""
from __future__ import annotations

import pytest

import threading
import time

import zmq

from streamer import wire
from streamer.worker import NodeRunner

pytestmark = pytest.mark.integration  # a server socket or a terminal process


def test_console_sends_an_emergency_stop_when_woken_not_at_its_tick():
    ctx = zmq.Context()
    gate = ctx.socket(zmq.PULL)
    gate.bind("inproc://gate")
    spec = {"name": "console", "type": "console",
            "params": {"http_port": 0, "gates": ["gate"]}, "bind": ["inproc://console"],
            "in_edges": [{"key": "cam.out->console.cam", "dst_port": "cam", "policy": "latest"}],
            "out_edges": [{"key": "console.control->gate.control", "src_port": "control",
                           "policy": "lossless", "endpoint": "inproc://gate"}]}
    stop = threading.Event()
    runner = NodeRunner(ctx, spec, epoch=1, stop=stop)
    runner.connect(ctx)
    runner.start()
    # A tick far away: only the wake-up can send the stop within the bound below.
    runner.node.tick_interval_s = 60.0
    runner.launch(go=True)
    try:
        time.sleep(0.3)  # the loop is waiting on its inbox
        threading.Thread(target=runner.node._on_control, args=({"op": "estop"},)).start()
        assert gate.poll(10_000), "the emergency stop did not leave the console"  # its tick: 60 s
        _, _, msg = wire.decode(gate.recv_multipart(copy=False))
        assert msg.data["action"] == "estop" and msg.data["source"] == "console"
    finally:
        stop.set()
        runner.thread.join(5)
        runner.close(0)
        gate.close()
        ctx.term()
