"""`streamer agent` on a second loopback address: it runs its host's nodes for the
controller, takes commands from the controller's key alone, and a Ctrl-C at the
controller stops the remote nodes too."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from streamer import process, security
from streamer.hosts import free_port
from streamer.wire import pack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
AGENT_ADDR = "127.0.0.2"  # the loopback range: a second host on this machine


@pytest.fixture
def agent(tmp_path):
    security.make_keys(tmp_path / "keys", ["controller", "a", "b"])
    port = free_port(AGENT_ADDR)
    log = tmp_path / "agent.log"
    proc = subprocess.Popen([sys.executable, "-m", "streamer", "agent", "--host", "b", "--keys",
                             str(tmp_path / "keys"), "--listen", AGENT_ADDR, "--port", str(port), "--orphan-s", "3"],
                            cwd=ROOT, stderr=log.open("wb"))
    time.sleep(1.0)
    yield proc, port, log
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def _placed(tmp_path: Path, port: int, name: str, body: str) -> Path:
    """A graph over host a (this controller) and host b (the agent), keys in tmp_path/keys."""
    g = tmp_path / f"{name}.yaml"
    g.write_text(f"name: {name}\nhosts:\n  a: 127.0.0.1\n  b: {{address: {AGENT_ADDR}, agent_port: {port}}}\n"
                 f"keys: keys\n{body}")
    return g


def _graph(tmp_path: Path, port: int, count: int) -> Path:
    return _placed(tmp_path, port, "two-hosts", f"""nodes:
  counter: {{type: util.counter, count: {count}, rate_hz: 1000, host: b}}
  log: {{type: util.log, host: a, level: DEBUG}}
edges:
  - counter -> log
""")


def test_agent_takes_commands_only_from_the_controllers_key(agent, tmp_path):
    proc, port, log = agent
    ctx = zmq.Context()
    try:
        for keys in (None, security.key_pair(tmp_path / "keys", "a")):  # no key; a host's key, not the controller's
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            if keys is not None:
                security.client(sock, keys.as_dict(), security.public_key(tmp_path / "keys", "b"))
            sock.connect(f"tcp://{AGENT_ADDR}:{port}")
            sock.send(pack({"kind": "hello", "ports": 0}))
            assert not sock.poll(1500), "the agent answered a peer without the controller's key"
            sock.close()
    finally:
        ctx.term()
    assert "refused" in log.read_text()
    assert not process.children(proc.pid)  # nothing was started


def test_a_graph_over_two_hosts_runs_and_ctrl_c_stops_the_remote_nodes(agent, tmp_path):
    proc, port, _ = agent
    stats = tmp_path / "stats.json"
    code = subprocess.run([sys.executable, "-m", "streamer", "run", str(_graph(tmp_path, port, 3000)), "--host", "a",
                           "--no-live", "--stats-json", str(stats)], cwd=ROOT, capture_output=True, timeout=120)
    assert code.returncode == 0, code.stderr.decode()[-2000:]
    f = json.loads(stats.read_text())
    edge = f["edges"]["counter.out>log.in"]
    assert f["reason"] == "finished" and edge["received"] == edge["sent"] and edge["lost"] == 0
    assert f["nodes"]["log"]["in_items"] == 3000
    assert f["hosts"]["b"]["round_trips"] > 0
    # An endless source on the agent's host; Ctrl-C at the controller ends both.
    run = subprocess.Popen([sys.executable, "-m", "streamer", "run", str(_graph(tmp_path, port, 0)), "--host", "a",
                            "--no-live", "--stats-json", str(stats)], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not process.children(proc.pid):
        assert time.monotonic() < deadline, "the agent started no worker"
        time.sleep(0.1)
    time.sleep(2.0)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 0, err.decode()[-2000:]
    assert json.loads(stats.read_text())["reason"] == "SIGINT"
    deadline = time.monotonic() + 10
    while [c for c in process.children(proc.pid) if "streamer.worker" in c[1]]:
        assert time.monotonic() < deadline, "the remote worker outlived the run"
        time.sleep(0.1)


def test_a_controller_killed_outright_leaves_the_remote_actuation_in_the_safe_state(agent, tmp_path):
    """The agent hears nothing for --orphan-s (3 s here) and stops its workers: the gate's
    safe command goes out before the actuator closes."""
    proc, port, _ = agent
    out = tmp_path / "out.jsonl"
    g = _placed(tmp_path, port, "remote-gate", f"""nodes:
  cmd:  {{type: "tests.runtime_nodes:Commands", action: left, rate_hz: 20, host: a}}
  gate: {{type: actions.gate, allow: [left], timeout_ms: 60000, host: b, group: act}}
  out:  {{type: actuators.log, path: "{out}", group: act}}
edges:
  - cmd -> gate
  - gate -> out
""")
    run = subprocess.Popen([sys.executable, "-m", "streamer", "run", str(g), "--host", "a", "--no-live"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and '"passed"' in out.read_text()):
            assert time.monotonic() < deadline and run.poll() is None, "no command passed the remote gate"
            time.sleep(0.1)
        run.kill()  # SIGKILL: the controller says nothing more
        t_kill = time.monotonic()
        run.wait(timeout=10)
        deadline = time.monotonic() + 15
        while [c for c in process.children(proc.pid) if "streamer.worker" in c[1]]:
            assert time.monotonic() < deadline, "the remote worker outlived its controller"
            time.sleep(0.1)
    finally:
        if run.poll() is None:
            run.kill()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[-1]["action"] == "stop" and lines[-1]["t_sent"] - t_kill < 3.0 + 3.0


def test_a_remote_node_that_fails_is_restarted_through_its_agent(agent, tmp_path):
    proc, port, _ = agent
    g = _placed(tmp_path, port, "remote-restart", f"""nodes:
  counter: {{type: util.counter, count: 250, rate_hz: 200, chunk: 1, host: a}}
  boom: {{type: "tests.runtime_nodes:Boom", after: 100, on_failure: restart, max_restarts: 5, host: b}}
edges:
  - counter -> boom
""")
    stats = tmp_path / "stats.json"
    r = subprocess.run([sys.executable, "-m", "streamer", "run", str(g), "--host", "a", "--no-live",
                        "--stats-json", str(stats)], cwd=ROOT, capture_output=True, timeout=120)
    f = json.loads(stats.read_text())
    assert r.returncode == 1 and f["failures"] == 2, r.stderr.decode()[-2000:]  # failures count, even restarted
    assert f["nodes"]["boom"]["restarts"] == 2 and f["reason"] == "finished"
    assert "boom at message 100" in r.stderr.decode()  # the remote traceback reached the controller
    into = f["edges"]["counter.out>boom.in"]
    # The numbering survived the restarts (the agent's counters file): every message is accounted for.
    assert into["sent"] == 250 and into["received"] + into["lost"] == 250
