"""Run graphs through the real CLI, in real processes."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from streamer.process import alive, children  # noqa: F401 - used by the tests through here

ROOT = Path(__file__).resolve().parent.parent
STARTED: list[subprocess.Popen] = []  # killed after each test by the fixture in conftest.py


def write_graph(tmp_path: Path, text: str, name: str = "graph.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def start(graph: Path, *args: str, stats: Path | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamer", "run", str(graph), "--no-live", *args]
    if stats is not None:
        cmd += ["--stats-json", str(stats)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    STARTED.append(proc)
    return proc


def stop_all() -> None:
    """Stop graphs a failed test left running (the supervisor takes its workers with it)."""
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def run(graph: Path, *args: str, timeout: float = 120, tmp: Path | None = None):
    stats = (tmp or graph.parent) / "stats.json"
    proc = start(graph, *args, stats=stats)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"graph did not finish in {timeout} s:\n{err[-3000:]}")
    figures = json.loads(stats.read_text()) if stats.exists() else None
    return proc.returncode, figures, err


def worker_pid(supervisor: int, unit: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, cmd in children(supervisor):
            if cmd.rstrip().endswith(f"/{unit}.json"):
                return pid
        time.sleep(0.05)
    raise AssertionError(f"no worker for {unit!r}")
