"""Serial (through a real pseudo-terminal pair) and log actuators."""
from __future__ import annotations

import json
import logging
import os
import select

import pytest

from nodes.actions.actuators.log_out import LogActuator
from streamer.streams import command, decision, now
from streamer.testing import feed

pytest.importorskip("serial")
from nodes.actions.actuators.serial_out import SerialActuator  # noqa: E402


def read_lines(fd: int, n: int, timeout_s: float = 2.0) -> list[bytes]:
    buf = b""
    while buf.count(b"\n") < n:
        r, _, _ = select.select([fd], [], [], timeout_s)
        if not r:
            break
        buf += os.read(fd, 4096)
    return buf.splitlines()


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_serial_json_lines(pty_pair):
    master, dev = pty_pair
    node = SerialActuator(device=dev, baudrate=9600)
    node.start()
    t0 = now()
    feed(node, [command("left", 0.5, safety="passed", t_origin=t0), command("stop", t_origin=t0)],
         finish=False)
    lines = read_lines(master, 2)
    items = [json.loads(line) for line in lines]
    assert [(i["action"], i["value"]) for i in items] == [("left", 0.5), ("stop", None)]
    assert items[0]["safety"] == "passed" and items[0]["t_origin"] == t0
    assert node.counters["sent"] == 2 and len(node.last_latencies_s) == 2
    node.stop()


def test_serial_text_template(pty_pair):
    master, dev = pty_pair
    node = SerialActuator(device=dev, format="text", template="{action}:{value}", eol="\r\n")
    node.start()
    feed(node, [command("speed", 3, t_origin=now())], finish=False)
    assert read_lines(master, 1) == [b"speed:3"]
    node.stop()


def test_serial_missing_device_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="cannot open serial port"):
        SerialActuator(device=str(tmp_path / "ttyNOPE")).start()


def test_log_console_and_jsonl(tmp_path, caplog):
    path = tmp_path / "out" / "commands.jsonl"
    node = LogActuator(path=str(path))
    node.start()
    with caplog.at_level(logging.INFO, logger="streamer.actions"):
        feed(node, [command("left", 1, t_origin=now()),
                    decision(2, "rest", [0.1, 0.2, 0.7], 0.7, 12, t_origin=now())], finish=False)
    node.stop()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r.get("action") or r.get("label") for r in rows] == ["left", "rest"]
    assert rows[1]["probabilities"] == [0.1, 0.2, 0.7]
    assert any("left=1" in r.getMessage() for r in caplog.records)
    assert node.counters["sent"] == 2
    with pytest.raises(ValueError, match="logging level"):
        LogActuator(level="LOUD").start()
