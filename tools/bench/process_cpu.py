"""CPU time of a graph's node processes while it runs, read from /proc (Linux): which
process bounds a graph's throughput, in CPU per item, whatever else the machine runs.

    sampler = CpuSampler(runner_pid)
    while running: sampler.sample(); time.sleep(0.05)
    sampler.between(t0, t1)  # {node: CPU seconds spent from t0 to t1 (time.monotonic)}
"""
from __future__ import annotations

import os
import time
from pathlib import Path

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds: user + system) of a live process, else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) * TICK_S


def _node_name(pid: int) -> str | None:
    """The node a worker process runs: `python -m streamer.worker DIR/<node>.json`."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if b"streamer.worker" not in args:
        return None
    spec = next((a for a in args if a.endswith(b".json")), None)
    return Path(spec.decode()).stem if spec else None


class CpuSampler:
    """Samples the CPU time of each node process started by the runner `parent`."""

    def __init__(self, parent: int) -> None:
        self.parent = parent
        self.names: dict[int, str] = {}
        self.samples: list[tuple[float, dict[str, float]]] = []

    def sample(self) -> None:
        now = time.monotonic()
        cpu: dict[str, float] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            st = _stat(pid)
            if st is None or st[0] != self.parent:
                continue
            if pid not in self.names:
                name = _node_name(pid)
                if name is None:
                    continue
                self.names[pid] = name
            cpu[self.names[pid]] = st[1]
        self.samples.append((now, cpu))

    def at(self, t: float, node: str) -> float:
        """CPU seconds of `node` at time t, read from the last sample before t (the first
        after it when none is before)."""
        before = [s for s in self.samples if s[0] <= t and node in s[1]]
        if before:
            return before[-1][1][node]
        after = [s for s in self.samples if node in s[1]]
        return after[0][1][node] if after else 0.0

    def between(self, t0: float, t1: float) -> dict[str, float]:
        nodes = {n for _, cpu in self.samples for n in cpu}
        return {n: self.at(t1, n) - self.at(t0, n) for n in sorted(nodes)}
