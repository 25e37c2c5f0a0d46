"""The runtime end to end: real processes, real ZeroMQ sockets, the real CLI."""
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from streamer import recording, security, wire
from tests.runtime_helpers import alive, children, run, start, worker_pid, write_graph

pytestmark = pytest.mark.integration


def values(path, name="in"):
    return recording.read(path)[name].data[0]


def test_a_million_values_arrive_exactly_once_in_order(tmp_path):
    rec = tmp_path / "count.rec"
    g = write_graph(tmp_path, f"""
name: million
nodes:
  counter: {{type: util.counter, count: 1000000, chunk: 100, rate_hz: 0}}
  rec: {{type: record, path: {rec}}}
edges: [counter -> rec]
""")
    code, figures, err = run(g)
    assert code == 0, err
    v = values(rec)
    np.testing.assert_array_equal(v, np.arange(1_000_000, dtype=np.float32))
    assert figures["nodes"]["rec"]["in_msgs"] == 10_000
    assert figures["edges"]["counter.out>rec.in"]["lost"] == 0
    assert figures["clean"] is True


def test_a_slow_receiver_on_a_lossless_edge_loses_nothing(tmp_path):
    rec = tmp_path / "slow.rec"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 20000, chunk: 10, rate_hz: 0}}
  slow: {{type: util.delay, delay_ms: 1}}
  rec: {{type: record, path: {rec}}}
edges: [counter -> slow, slow -> rec]
""")
    code, figures, err = run(g)
    assert code == 0, err
    np.testing.assert_array_equal(values(rec), np.arange(20000, dtype=np.float32))
    for edge in figures["edges"].values():
        assert edge["lost"] == 0 and edge["dropped"] == 0 and edge["superseded"] == 0
    # The producer was held back: it could not run ahead of the 1 ms consumer by more than the queues.
    assert figures["elapsed_s"] >= 2000 * 1e-3


def test_latest_edges_count_what_they_skip(tmp_path):
    rec = tmp_path / "latest.rec"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 5000, chunk: 10, rate_hz: 0}}
  slow: {{type: util.delay, delay_ms: 5}}
  rec: {{type: record, path: {rec}}}
edges:
  - {{from: counter, to: slow, policy: latest}}
  - slow -> rec
""")
    code, figures, err = run(g)
    assert code == 0, err
    e = figures["edges"]["counter.out>slow.in"]
    v = values(rec)
    assert len(v) < 5000 and np.all(np.diff(v) > 0)
    # Every message sent is accounted for, once: received (some of them superseded at the
    # receiver by a newer one) or dropped by the sender because the edge was full.
    assert e["sent"] == 500 == e["received"] + e["dropped"] + e["lost"] + e["queue"]
    assert e["dropped"] > 0 and e["lost"] == 0 and e["queue"] == 0
    assert figures["nodes"]["slow"]["in_msgs"] == e["received"] - e["superseded"]


def test_kill_9_of_a_transform_restarts_it_and_the_gap_shows(tmp_path):
    rec = tmp_path / "restart.rec"
    stats = tmp_path / "stats.json"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 6000, chunk: 20, rate_hz: 2000}}
  mid: {{type: util.delay, delay_ms: 0, on_failure: restart, max_restarts: 2}}
  rec: {{type: record, path: {rec}}}
edges: [counter -> mid, mid -> rec]
""")
    proc = start(g, stats=stats)
    pid = worker_pid(proc.pid, "mid")
    time.sleep(1.2)
    os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # a failure happened: the run was not clean
    assert "killed by signal 9; restarting (1/2)" in err
    figures = json.loads(stats.read_text())
    mid = figures["nodes"]["mid"]
    assert mid["restarts"] == 1 and mid["state"] == "finished"
    assert any("signal 9" in e for e in mid["errors"])
    v = values(rec)
    assert v[-1] == 5999 and np.all(np.diff(v) > 0)  # the graph went on to the end
    missing_msgs = (6000 - len(v)) // 20
    # Whatever went missing is reported as lost (the count may include messages that the
    # killed process forwarded after its last report).
    assert figures["edges"]["counter.out>mid.in"]["lost"] >= missing_msgs


def test_a_crashing_node_is_reported_with_its_traceback(tmp_path):
    g = write_graph(tmp_path, """
nodes:
  counter: {type: util.counter, count: 100, chunk: 1, rate_hz: 0}
  boom: {type: "tests.runtime_nodes:Boom", after: 5}
  log: {type: util.log}
edges: [counter -> boom, boom -> log]
""")
    code, figures, err = run(g, timeout=60)
    assert code == 1
    assert "Traceback" in err and "RuntimeError: boom at message 5" in err
    assert figures["nodes"]["boom"]["state"] == "failed"
    assert "RuntimeError: boom at message 5" in figures["nodes"]["boom"]["errors"][0]


def test_a_node_that_cannot_start_stops_the_graph_before_it_runs(tmp_path):
    out = tmp_path / "commands.jsonl"
    g = write_graph(tmp_path, f"""
nodes:
  camera: {{type: "tests.runtime_nodes:NoDevice"}}
  gate: {{type: actions.gate, timeout_ms: 50}}
  out: {{type: actuators.log, path: "{out}"}}
edges: [camera -> gate.heartbeat, gate -> out]
""")
    t0 = time.monotonic()
    code, figures, err = run(g, timeout=60)
    assert code == 1 and time.monotonic() - t0 < 20
    assert "RuntimeError: no device found" in err and "not starting the graph: camera failed to start" in err
    # the rest never went (the gate's watchdog, 50 ms, would have fired); the gate only
    # sent its safe command on the stop, and the actuator passed it on
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["action"], r["safety"]) for r in rows] == [("stop", "watchdog:stop")]
    assert figures["reason"] == "start failed"
    assert figures["nodes"]["gate"]["counters"] == {"watchdog_stop": 1}


def test_ctrl_c_stops_everything_promptly(tmp_path):
    """Workers get 1.5 s to stop by themselves, then are killed: gone within 2 s on an idle
    machine; the bound here leaves room for a machine under load."""
    g = write_graph(tmp_path, """
nodes:
  counter: {type: util.counter, rate_hz: 1000}
  mid: {type: util.delay, delay_ms: 0}
  log: {type: util.log, max_rate_hz: 1}
edges: [counter -> mid, mid -> log]
""")
    proc = start(g)
    pids = [worker_pid(proc.pid, u) for u in ("counter", "mid", "log")]
    run_dir = os.path.dirname(children(proc.pid)[0][1].split()[-1])
    deadline = time.monotonic() + 30
    while not {"mid", "log"} <= set(os.listdir(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {"mid", "log"} <= set(os.listdir(run_dir))  # the ipc socket files exist while running
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)
    while any(alive(p) for p in pids) and time.monotonic() - t0 < 10:
        time.sleep(0.01)
    elapsed = time.monotonic() - t0
    assert not any(alive(p) for p in pids)
    assert elapsed < 6.0, f"stopping took {elapsed:.2f} s"
    assert not os.path.exists(run_dir)  # no socket files left
    assert proc.returncode == 0


def test_garbage_on_an_input_socket_is_counted_and_the_node_goes_on(tmp_path):
    rec = tmp_path / "garbage.rec"
    stats = tmp_path / "stats.json"
    port = _free_port()
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 2000, chunk: 10, rate_hz: 1000}}
  rec: {{type: record, path: {rec}, transport: tcp, tcp_port: {port}}}
edges: [counter -> rec]
""")
    proc = start(g, stats=stats)
    worker_pid(proc.pid, "rec")
    time.sleep(0.8)
    # A peer with the run's keys (a keyless one is refused at the handshake: test_curve_spoof)
    spec_path = next(cmd.split()[-1] for _, cmd in children(proc.pid) if cmd.rstrip().endswith("/rec.json"))
    keys = json.loads(Path(spec_path).read_text())["security"]
    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 10000)  # the handshake waits for the worker's bind on a loaded machine
    security.client(push, keys, keys["public"])
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(os.urandom(100))                                          # one frame of noise
    push.send_multipart([b"counter.out>rec.in", b"\xc1\xc1\xc1"])        # header not msgpack
    good = wire.encode(__import__("streamer.streams", fromlist=["x"]).marker("x"), 0, 1, b"nobody>rec.in")
    push.send_multipart(good)                                           # an edge that does not exist
    push.send_multipart([b"counter.out>rec.in", wire.pack({"v": 1, "s": "Samples", "q": 1, "e": 1,
                         "a": [["", "<f4", [1, 1000]]], "m": {}}), b"\0" * 12])  # sizes do not match
    push.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    figures = json.loads(stats.read_text())
    assert figures["nodes"]["rec"]["rejected"] == 4
    assert figures["nodes"]["rec"]["last_rejection"]
    np.testing.assert_array_equal(values(rec), np.arange(2000, dtype=np.float32))


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_group_shares_one_process_over_inproc(tmp_path):
    rec = tmp_path / "group.rec"
    stats = tmp_path / "stats.json"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 50000, chunk: 50, rate_hz: 0, group: pipeline}}
  mid: {{type: util.delay, delay_ms: 0, group: pipeline}}
  rec: {{type: record, path: {rec}}}
edges: [counter -> mid, mid -> rec]
""")
    proc = start(g, stats=stats)
    pid = worker_pid(proc.pid, "pipeline")
    assert len(children(proc.pid)) <= 2  # pipeline and rec: the group is one process
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    figures = json.loads(stats.read_text())
    assert figures["nodes"]["counter"]["pid"] == figures["nodes"]["mid"]["pid"] == pid
    assert figures["nodes"]["rec"]["pid"] != pid
    np.testing.assert_array_equal(values(rec), np.arange(50000, dtype=np.float32))
