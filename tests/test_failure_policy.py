"""What the runtime does when a node fails for good: `on_failure` per node, by role by
default. A dead recorder is detached and never holds the control loop back; a dead decoder
stops the graph; a restarted node's figures continue where the dead one's stopped."""
from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest

from streamer import recording
from tests.runtime_helpers import run, start, worker_pid, write_graph

pytestmark = pytest.mark.integration


def _running(rec, timeout: float = 60) -> None:
    """Wait until data reaches a recording: the graph runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rec.exists() and rec.stat().st_size > 1000:
            time.sleep(0.3)
            return
        time.sleep(0.05)
    raise AssertionError("the graph did not start")


def test_a_dead_recorder_is_detached_and_the_run_goes_on_to_its_end(tmp_path):
    """A recorder that fails for good (here: killed, it is not restarted) used to stall the
    source behind it for ever: lossless sends waited for a reader that would never read."""
    stats = tmp_path / "stats.json"
    out = tmp_path / "log.rec"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 4000, chunk: 10, rate_hz: 1000}}
  rec: {{type: record, path: "{tmp_path / 'dead.rec'}"}}
  live: {{type: record, path: "{out}"}}
edges: [counter -> rec, counter -> live]
""")
    proc = start(g, stats=stats)
    _running(out)
    os.kill(worker_pid(proc.pid, "rec"), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    figures = json.loads(stats.read_text())
    assert proc.returncode == 1  # a failure happened and is reported
    assert "detached" in err and figures["nodes"]["rec"]["state"] == "detached"
    assert figures["reason"] == "finished"  # the source ran to its end
    np.testing.assert_array_equal(recording.read(out)["in"].data[0], np.arange(4000, dtype=np.float32))
    dead = figures["edges"]["counter.out>rec.in"]
    assert dead["sent"] == 400 and dead["dropped"] > 0  # what it missed is counted
    assert dead["sent"] == dead["received"] + dead["lost"] + dead["dropped"] + dead["queue"]


def test_a_decoder_that_fails_for_good_stops_the_graph(tmp_path):
    g = write_graph(tmp_path, """
nodes:
  counter: {type: util.counter, rate_hz: 1000}
  boom: {type: "tests.runtime_nodes:Boom", after: 50}
  log: {type: util.log, max_rate_hz: 1}
edges: [counter -> boom, boom -> log]
""")
    t0 = time.monotonic()
    code, figures, err = run(g, timeout=60)  # the counter never ends: only the stop ends the run
    assert code == 1 and time.monotonic() - t0 < 30
    assert figures["reason"] == "boom failed" and "stopping the graph (on_failure: stop)" in err
    assert figures["nodes"]["counter"]["state"] == "stopped"


def test_a_restart_continues_the_numbering(tmp_path):
    """A restarted receiver knows which number comes next, and a restarted sender goes on
    numbering: what the dead process held is lost, nothing delivered counts as lost."""
    rec = tmp_path / "restart.rec"
    stats = tmp_path / "stats.json"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 6000, chunk: 20, rate_hz: 2000}}
  mid: {{type: util.delay, delay_ms: 0, on_failure: restart, max_restarts: 3}}
  rec: {{type: record, path: {rec}}}
edges: [counter -> mid, mid -> rec]
""")
    proc = start(g, stats=stats)
    _running(rec)
    os.kill(worker_pid(proc.pid, "mid"), signal.SIGKILL)
    time.sleep(1.0)
    os.kill(worker_pid(proc.pid, "mid"), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    figures = json.loads(stats.read_text())
    assert figures["nodes"]["mid"]["restarts"] == 2
    v = recording.read(rec)["in"].data[0]
    assert v[-1] == 5999 and np.all(np.diff(v) > 0)
    into, out_of = figures["edges"]["counter.out>mid.in"], figures["edges"]["mid.out>rec.in"]
    missing = (6000 - len(v)) // 20
    # every message is accounted for, on both edges, across three incarnations of mid
    for e in (into, out_of):
        assert e["sent"] == e["received"] + e["lost"] + e["dropped"] + e["queue"]
        assert e["queue"] == 0 and e["dropped"] == 0
    assert into["sent"] == 300 and out_of["received"] == len(v) // 20
    # loss is counted where it happened and never more than what is missing (a restarted
    # inbox used to count every message delivered before the restart as lost)
    assert into["lost"] + out_of["lost"] <= missing
    assert out_of["sent"] == out_of["received"] + out_of["lost"]


def test_a_node_restarted_after_an_exception_still_reaches_its_downstream(tmp_path):
    """A node that raises sends its last words but not the end of its streams when it will
    be restarted: downstream used to finish on that end, and the restarted node then sent
    to nobody and the run never ended."""
    rec = tmp_path / "after.rec"
    stats = tmp_path / "stats.json"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 250, chunk: 1, rate_hz: 250}}
  boom: {{type: "tests.runtime_nodes:Boom", after: 100, on_failure: restart, max_restarts: 5}}
  rec: {{type: record, path: {rec}}}
edges: [counter -> boom, boom -> rec]
""")
    proc = start(g, stats=stats)
    _, err = proc.communicate(timeout=90)
    figures = json.loads(stats.read_text())
    assert figures["nodes"]["boom"]["restarts"] == 2 and figures["reason"] == "finished", err[-2000:]
    # Each incarnation that failed had passed on its first 99 messages: the second's reached
    # the recorder too (before the fix, the recorder ended with the first's). What the
    # counter sent while boom was restarting is lost, more of it on a loaded machine.
    v = recording.read(rec)["in"].data[0]
    assert len(v) >= 2 * 99 and np.all(np.diff(v) > 0)
    assert figures["nodes"]["rec"]["state"] == "finished"


def test_a_restarted_node_gets_the_end_of_stream_that_died_in_its_predecessors_queue(tmp_path):
    """The counter has ended while boom, slow, still had its last messages and their end of
    stream queued: they die with boom. The restarted boom is sent that end again by the
    counter (which waits for it to be taken), so the run ends instead of waiting for ever."""
    stats = tmp_path / "stats.json"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 400, chunk: 1, rate_hz: 0}}
  boom: {{type: "tests.runtime_nodes:Boom", after: 20, delay_ms: 50, on_failure: restart, max_restarts: 1}}
  rec: {{type: record, path: {tmp_path / "after.rec"}}}
edges: [counter -> boom, boom -> rec]
""")
    proc = start(g, stats=stats)
    _, err = proc.communicate(timeout=60)
    figures = json.loads(stats.read_text())
    assert figures["nodes"]["boom"]["restarts"] == 1 and figures["reason"] == "finished", err[-2000:]
    edge = figures["edges"]["counter.out>boom.in"]
    assert edge["sent"] == 400 and edge["ended"]
