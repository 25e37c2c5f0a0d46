"""A process without the graph's keys cannot put a message on a tcp edge: forged commands,
a spoofed end of stream and a spoofed sequence number are refused at the CURVE handshake
and counted (refused_handshakes), and the run goes on as if they had never been sent."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from streamer import security, wire
from streamer.hosts import free_port
from streamer.streams import command, now

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
EDGE = "cmd.out>gate.in"


def _graph(tmp_path: Path, port: int) -> Path:
    g = tmp_path / "gate_tcp.yaml"
    g.write_text(f"""name: gate-tcp
nodes:
  cmd:  {{type: "tests.runtime_nodes:Commands", action: left, rate_hz: 20}}
  gate: {{type: actions.gate, allow: [left], timeout_ms: 1000, transport: tcp, tcp_port: {port}}}
  out:  {{type: actuators.log, path: "{tmp_path / 'out.jsonl'}"}}
edges:
  - cmd -> gate
  - gate -> out
""")
    return g


def _run_dir(pid: int, deadline: float) -> Path:
    """The run directory of supervisor `pid`, once the gate's spec is in it."""
    while time.monotonic() < deadline:
        for d in glob.glob("/tmp/streamer-*"):
            try:
                if Path(d, "supervisor.pid").read_text().split()[0] == str(pid) and Path(d, "gate.json").exists():
                    return Path(d)
            except (OSError, IndexError, ValueError):
                continue
        time.sleep(0.1)
    raise AssertionError("the run directory did not appear")


def _run_spec(pid: int, deadline: float) -> dict:
    """The gate's spec (its epoch: a forger's best case)."""
    return json.loads((_run_dir(pid, deadline) / "gate.json").read_text())


def _forge(endpoint: str, epoch: int, keys: security.KeyPair | None, server_key: str) -> None:
    """Forged messages on the gate's edge: a `forward` command, a sequence number far ahead,
    an end of stream, sent as a process without the graph's keys would (none, or its own)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        security.client(sock, keys.as_dict(), server_key)
    sock.connect(endpoint)
    topic = EDGE.encode()
    msgs = [wire.encode(command("forward", t_origin=now()), seq, epoch, topic) for seq in range(40, 60)]
    msgs.append(wire.encode(command("forward", t_origin=now()), 1_000_000_004, epoch, topic))
    msgs.append(wire.end_of_stream(61, epoch, topic))
    for frames in msgs:
        try:
            sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            pass
    time.sleep(1.0)  # it keeps trying to connect meanwhile: each attempt is refused
    sock.close()
    ctx.term()


def test_forged_commands_end_of_stream_and_sequence_numbers_are_refused(tmp_path):
    port = free_port()
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen([sys.executable, "-m", "streamer", "run", str(_graph(tmp_path, port)),
                             "--duration", "10", "--no-live", "--stats-json", str(stats)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        spec = _run_spec(proc.pid, time.monotonic() + 60)
        node = spec["nodes"][0]
        assert any(b.startswith("tcp://") for b in node["bind"])
        endpoint = next(b for b in node["bind"] if b.startswith("tcp://"))
        server_key = spec["security"]["public"]
        deadline = time.monotonic() + 60  # the gate's inbox is bound once commands pass it
        while not ((tmp_path / "out.jsonl").exists() and '"passed"' in (tmp_path / "out.jsonl").read_text()):
            assert time.monotonic() < deadline and proc.poll() is None, "no command passed the gate"
            time.sleep(0.1)
        _forge(endpoint, spec["epoch"], None, server_key)                  # no key at all
        _forge(endpoint, spec["epoch"], security.ephemeral(), server_key)  # a key not of the graph
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    figures = json.loads(stats.read_text())
    assert figures["reason"] == "duration"  # the spoofed end of stream did not end the run
    edge = figures["edges"][EDGE]
    assert edge["lost"] == 0 and edge["rejected"] == 0  # a spoofed number would show as 1e9 lost
    assert edge["received"] == edge["sent"] > 50
    refused = figures["nodes"]["gate"]["counters"]["refused_handshakes"]
    assert refused >= 2, figures["nodes"]["gate"]["counters"]
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert not [x for x in lines if x["action"] == "forward"]
    assert sum(x["action"] == "left" and x["safety"] == "passed" for x in lines) > 50
    assert lines[-1]["action"] == "stop"  # and the run still ended in the safe state


def test_ipc_sockets_live_where_only_the_user_can_open_them(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamer", "run", str(_graph(tmp_path, port)),
                             "--duration", "3", "--no-live"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_dir = _run_dir(proc.pid, time.monotonic() + 60)
        assert os.stat(run_dir).st_mode & 0o077 == 0
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
