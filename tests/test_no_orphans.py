"""Nothing outlives the graph: processes a node starts die with its worker, workers die
with the supervisor (after sending their safe commands), and the run folder of a killed
supervisor is removed at the next start."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from streamer.process import alive, children
from tests.runtime_helpers import ROOT, start, worker_pid, write_graph

pytestmark = pytest.mark.integration


def _graph(tmp_path: Path, count: int = 0) -> Path:
    return write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: {count}, rate_hz: 200}}
  sim: {{type: "tests.runtime_nodes:SpawnsChild", pid_file: "{tmp_path / 'children'}"}}
  log: {{type: util.log, max_rate_hz: 1}}
edges: [counter -> sim, sim -> log]
""")


def _child_pids(tmp_path: Path, n: int, timeout: float = 30) -> list[int]:
    path = tmp_path / "children"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            pids = [int(x) for x in path.read_text().split()]
            if len(pids) >= n:
                return pids
        time.sleep(0.05)
    raise AssertionError("the node did not start its child")


def _gone(pids: list[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return not any(alive(p) for p in pids)


def test_killing_the_supervisor_takes_every_worker_and_their_children(tmp_path):
    proc = start(_graph(tmp_path))
    worker_pid(proc.pid, "sim")
    child = _child_pids(tmp_path, 1)[0]
    workers = [pid for pid, _ in children(proc.pid)]
    assert alive(child) and len(workers) == 3
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _gone(workers + [child]), "a worker or the node's child outlived the supervisor"


def test_a_killed_worker_takes_its_children_and_a_stop_leaves_nothing(tmp_path):
    g = _graph(tmp_path).read_text().replace("SpawnsChild\", pid_file", "SpawnsChild\", on_failure: restart, pid_file")
    proc = start(write_graph(tmp_path, g, "restart.yaml"))
    first = _child_pids(tmp_path, 1)[0]
    os.kill(worker_pid(proc.pid, "sim"), signal.SIGKILL)
    assert _gone([first]), "the child of a killed worker outlived it"
    second = _child_pids(tmp_path, 2)[1]  # the restarted node started a new one
    assert alive(second)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert _gone([second])


def test_the_run_folder_of_a_killed_supervisor_is_removed_at_the_next_start(tmp_path):
    proc = start(_graph(tmp_path))
    worker_pid(proc.pid, "sim")
    run_dir = Path(next(cmd for _, cmd in children(proc.pid)).split()[-1]).parent
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    assert run_dir.is_dir()  # nobody could clean it up
    (tmp_path / "next").mkdir()
    start(_graph(tmp_path / "next", count=10)).wait(timeout=60)
    assert not run_dir.exists()


@pytest.mark.skipif(not (ROOT / ".venv-lava" / "bin" / "python").exists(), reason="no Lava environment "
                    "(tools/envs/make_lava_env.sh)")
def test_lava_processes_die_with_the_graph(tmp_path, shared_data):
    """The Loihi simulator forks a dozen processes: none survives a killed chip node or
    a killed supervisor."""
    proc = start(ROOT / "graphs" / "nmnist_loihi.yaml", "--set", "camera.limit=400")
    chip = worker_pid(proc.pid, "chip", timeout=60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(children(chip)) < 3:
        time.sleep(0.2)
    lava = [pid for pid, _ in children(chip)]
    assert len(lava) >= 3, "the chip node started no simulator processes"
    os.kill(chip, signal.SIGKILL)
    assert _gone(lava), "Lava processes outlived their node"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    # and with the supervisor killed outright
    proc = start(ROOT / "graphs" / "nmnist_loihi.yaml", "--set", "camera.limit=400")
    chip = worker_pid(proc.pid, "chip", timeout=60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(children(chip)) < 3:
        time.sleep(0.2)
    everything = [chip] + [pid for pid, _ in children(chip)] + [pid for pid, _ in children(proc.pid)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _gone(everything, timeout=15), "processes outlived the killed supervisor"
