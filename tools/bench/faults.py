"""Fault matrix: every way a run can end, on the shipped closed loops.

Each graph runs with its actuator replaced by `actuators.udp`, sending to a UDP listener in
another process that stamps each datagram with the host's monotonic clock (the clock of the
graph's own times). Once the loop is live, one fault is injected: kill -9 of each worker
process in turn, SIGINT or SIGTERM to the supervisor, the end of `--duration`, or kill -9 of
the supervisor. For each run the table shows the time from the fault to the first safe
command at the listener (the gate's `watchdog:*` or the actuator's own `actuator:*`), the
limit it must meet (the gate's timeout_ms + 200 ms after a kill, 500 ms after a stop), whether
the run ended by itself with no process left behind, and whether every edge's figures add
up: sent = received + lost + rejected + dropped + queued.

    python -m tools.bench.faults                      # all graphs, every fault
    python -m tools.bench.faults --graphs demo --faults sigint,kill:snn
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streamer import counters
from streamer.process import alive, children

ROOT = Path(__file__).resolve().parents[2]
KILL_MARGIN_MS = 200.0
STOP_LIMIT_MS = 500.0
WARM_S = 1.5          # the loop runs this long before the fault
END_S = 60.0          # a run must end by itself within this after the fault
SAFE_PREFIXES = ("watchdog:", "actuator:")


@dataclass
class Loop:
    """A shipped graph, its actuator, and the environment that makes it end by itself."""

    name: str
    path: str
    actuator: str
    env: dict[str, str]
    needs_data: bool = False

    def load(self) -> dict:
        return yaml.safe_load((ROOT / self.path).read_text())

    def gate(self) -> dict:
        nodes = self.load()["nodes"]
        return next(n for n in nodes.values() if n["type"] == "actions.gate")

    def timeout_ms(self) -> float:
        value = self.gate().get("timeout_ms", 500.0)
        if isinstance(value, str):  # ${TIMEOUT_MS:-8000}
            value = self.env.get("TIMEOUT_MS") or value.split(":-")[-1].rstrip("}")
        return float(value)

    def safe_action(self) -> str:
        return str(self.gate().get("safe_action", "stop"))

    def units(self) -> dict[str, list[str]]:
        """Worker processes: unit name -> its nodes."""
        out: dict[str, list[str]] = {}
        for name, body in self.load()["nodes"].items():
            out.setdefault(body.get("group") or name, []).append(name)
        return out

    def control_path(self) -> set[str]:
        """The nodes the actuator depends on (itself included): a fault elsewhere (a log of
        blocked commands) must leave the loop undisturbed rather than make it safe."""
        edges = []
        for e in self.load()["edges"]:
            src, dst = (e["from"], e["to"]) if isinstance(e, dict) else (part.strip() for part in e.split("->"))
            edges.append((src.split(".")[0], dst.split(".")[0]))
        path, todo = {self.actuator}, [self.actuator]
        while todo:
            node = todo.pop()
            for src, dst in edges:
                if dst == node and src not in path:
                    path.add(src)
                    todo.append(src)
        return path


LOOPS = {
    "demo": Loop("demo", "graphs/demo.yaml", "out", {"TRIALS": "10", "SEED": "3"}),
    "eeg": Loop("eeg", "graphs/eeg_motor_imagery.yaml", "out", {"TRIALS": "4", "SPEED": "4", "SEED": "3"}),
    "seeg": Loop("seeg", "graphs/seeg_seizure.yaml", "stimulator", {"SPEED": "25"}, needs_data=True),
}
STOPS = ("sigint", "sigterm", "duration", "kill-supervisor")


@dataclass
class Result:
    graph: str
    fault: str
    limit_ms: float | None   # None: off the control path, no safe command needed
    safe_ms: float | None = None
    safety: str = ""
    ended: bool = False
    exit_code: int | None = None
    orphans: list[int] = field(default_factory=list)
    edges: dict[str, dict] = field(default_factory=dict)
    unbalanced: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def safe_in_time(self) -> bool:
        if self.limit_ms is None:
            return True
        return self.safe_ms is not None and self.safe_ms <= self.limit_ms

    @property
    def ok(self) -> bool:
        return self.safe_in_time and self.ended and not self.orphans and not self.unbalanced and not self.error


# -- the listener (runs in its own process) -------------------------------------------
def listen(port: int, path: str) -> None:
    """Write every datagram received on 127.0.0.1:port to `path` as a JSON line with its
    receive time (host monotonic), flushed at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    with open(path, "a", encoding="utf-8") as out:
        while True:
            data, _ = sock.recvfrom(65536)
            t = time.monotonic()
            try:
                row = json.loads(data)
            except ValueError:
                row = {"raw": data.hex()}
            out.write(json.dumps({"t_recv": t, **row}) + "\n")
            out.flush()


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass  # a line being written
    return rows


def _is_safe(row: dict, action: str) -> bool:
    return row.get("action") == action and str(row.get("safety", "")).startswith(SAFE_PREFIXES)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(supervisor: int) -> dict[str, int]:
    """unit name -> pid of its worker process."""
    out = {}
    for pid, cmd in children(supervisor):
        parts = cmd.split()
        if "streamer.worker" in parts and parts[-1].endswith(".json"):
            out[Path(parts[-1]).stem] = pid
    return out


def _edges_from_run_dir(run_dir: Path) -> dict[str, dict]:
    """Edge figures from the counters a killed supervisor left in its run folder."""
    outs: dict[str, dict] = {}
    ins: dict[str, dict] = {}
    for spec_file in run_dir.glob("*.json"):
        for node in json.loads(spec_file.read_text())["nodes"]:
            c = counters.read(node["counters"], [e["key"] for e in node["in_edges"]],
                              [e["key"] for e in node["out_edges"]])
            outs.update(c["edges_out"])
            ins.update(c["edges_in"])
    edges = {}
    for key in outs.keys() | ins.keys():
        o, i = outs.get(key, {}), ins.get(key, {})
        on_wire, dropped = o.get("seq", 0), o.get("dropped", 0)
        edges[key] = {"sent": on_wire + dropped, "dropped": dropped, "received": i.get("received", 0),
                      "lost": i.get("lost", 0), "rejected": i.get("rejected", 0),
                      "queue": max(0, on_wire - i.get("next_seq", 0))}
    return edges


def unbalanced(edges: dict[str, dict]) -> list[str]:
    """Edges whose figures do not add up."""
    bad = []
    for key, e in edges.items():
        parts = e["received"] + e["lost"] + e.get("rejected", 0) + e["dropped"] + e["queue"]
        if e["sent"] != parts:
            bad.append(f"{key}: sent {e['sent']} != {parts}")
    return bad


# -- one run ----------------------------------------------------------------------------
def run_fault(loop: Loop, fault: str, workdir: Path, data_dir: str | None = None) -> Result:
    """Run `loop` until it is live, inject `fault`, and measure what follows."""
    timeout_ms = loop.timeout_ms()
    limit: float | None = STOP_LIMIT_MS if fault in ("sigint", "sigterm", "duration") else timeout_ms + KILL_MARGIN_MS
    if fault.startswith("kill:") and not set(loop.units()[fault[5:]]) & loop.control_path():
        limit = None
    result = Result(loop.name, fault, limit)
    tag = f"{loop.name}-{fault.replace(':', '-')}"
    received = workdir / f"{tag}.udp.jsonl"
    stats = workdir / f"{tag}.stats.json"
    log = workdir / f"{tag}.log"
    port = _free_udp_port()
    listener = subprocess.Popen([sys.executable, "-m", "tools.bench.faults", "--listen", str(port), str(received)],
                                cwd=ROOT)
    env = {**os.environ, **loop.env}
    if data_dir:
        env["STREAMER_DATA"] = data_dir
    cmd = [sys.executable, "-m", "streamer", "run", str(ROOT / loop.path), "--no-live", "--stats-json", str(stats),
           "--set", f"{loop.actuator}.type=actuators.udp", "--set", f"{loop.actuator}.address=127.0.0.1:{port}"]
    if fault == "duration":
        cmd += ["--duration", str(WARM_S + 1.0)]
    with open(log, "w") as errors:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=errors, stderr=subprocess.STDOUT)
    action = loop.safe_action()
    try:
        workers = _await_live(proc, received, action)
        if fault == "duration":
            proc.wait(timeout=END_S)
            figures = json.loads(stats.read_text())
            t_fault = figures["t_stop"]
        else:
            run_dir = _run_dir(proc.pid)
            t_fault = _inject(fault, proc, workers)
        deadline = time.monotonic() + (limit or 0.0) / 1e3 + 3.0
        while time.monotonic() < deadline and result.safe_ms is None:
            for row in _rows(received):
                if row["t_recv"] > t_fault and _is_safe(row, action):
                    result.safe_ms = 1e3 * (row["t_recv"] - t_fault)
                    result.safety = row["safety"]
                    break
            time.sleep(0.02)
        result.ended, result.exit_code = _await_end(proc, workers, fault)
        result.orphans = [pid for pid in workers.values() if alive(pid)]
        if fault == "kill-supervisor":
            result.edges = _edges_from_run_dir(run_dir)
        elif stats.exists():
            result.edges = json.loads(stats.read_text())["edges"]
        result.unbalanced = unbalanced(result.edges)
    except (TimeoutError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        result.error = f"{type(exc).__name__}: {exc}; log: {log}"
    finally:
        for p in (proc, listener):
            if p.poll() is None:
                p.kill()
                p.wait()
    return result


def _await_live(proc: subprocess.Popen, received: Path, action: str) -> dict[str, int]:
    """Wait for the safe command of the start at the listener, then WARM_S more."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TimeoutError(f"the graph ended before it was live (exit {proc.returncode})")
        if any(_is_safe(r, action) for r in _rows(received)):
            break
        time.sleep(0.05)
    else:
        raise TimeoutError("no safe command at the start within 120 s")
    time.sleep(WARM_S)
    return _workers(proc.pid)


def _run_dir(supervisor: int) -> Path:
    for _, cmd in children(supervisor):
        parts = cmd.split()
        if "streamer.worker" in parts:
            return Path(parts[-1]).parent
    raise TimeoutError("no worker process found")


def _inject(fault: str, proc: subprocess.Popen, workers: dict[str, int]) -> float:
    if fault.startswith("kill:"):
        pid = workers[fault.split(":", 1)[1]]
        t = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        return t
    sig = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "kill-supervisor": signal.SIGKILL}[fault]
    t = time.monotonic()
    proc.send_signal(sig)
    return t


def _await_end(proc: subprocess.Popen, workers: dict[str, int], fault: str) -> tuple[bool, int | None]:
    """Whether the run ended by itself (for a killed supervisor: its workers did)."""
    deadline = time.monotonic() + END_S
    if fault == "kill-supervisor":
        proc.wait()
        while time.monotonic() < deadline and any(alive(p) for p in workers.values()):
            time.sleep(0.05)
        return not any(alive(p) for p in workers.values()), None
    try:
        return True, proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False, None


def faults_of(loop: Loop) -> list[str]:
    return [f"kill:{u}" for u in loop.units()] + list(STOPS)


def run_matrix(loops: list[Loop], only: list[str] | None, workdir: Path, progress: Any = None) -> list[Result]:
    results = []
    for loop in loops:
        for fault in faults_of(loop):
            if only and fault not in only:
                continue
            r = run_fault(loop, fault, workdir)
            results.append(r)
            if progress is not None:
                progress(r)
    return results


def table(results: list[Result]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="fault matrix: safe command at the listener after each fault")
    for col in ("graph", "fault", "safe after ms", "limit ms", "by", "ended", "exit", "orphans",
                "edges add up", "queued", "lost"):
        t.add_column(col, justify="right" if col.endswith("ms") or col in ("queued", "lost", "exit") else "left")
    for r in results:
        safe = "-" if r.safe_ms is None else f"{r.safe_ms:.0f}"
        colour = "green" if r.ok else "red"
        limit = "-" if r.limit_ms is None else f"{r.limit_ms:.0f}"
        by = r.safety if r.limit_ms is not None else "(off the control path)"
        t.add_row(r.graph, f"[{colour}]{escape(r.fault)}[/]", safe, limit, by or r.error[:40],
                  "yes" if r.ended else "[red]no[/]", "-" if r.exit_code is None else str(r.exit_code),
                  str(len(r.orphans)),
                  f"{len(r.edges) - len(r.unbalanced)}/{len(r.edges)}",
                  str(sum(e["queue"] for e in r.edges.values())),
                  str(sum(e["lost"] for e in r.edges.values())))
    return t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--graphs", default=",".join(LOOPS), help="comma-separated: " + ", ".join(LOOPS))
    p.add_argument("--faults", default="", help="comma-separated faults (default: all), e.g. sigint,kill:snn")
    p.add_argument("--json", help="write the results as JSON")
    p.add_argument("--listen", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.listen:
        listen(int(args.listen[0]), args.listen[1])
        return 0
    from rich.console import Console
    from rich.markup import escape

    from tools.datasets import data_dir

    console = Console(emoji=False, width=max(160, Console().width))
    loops = []
    for name in args.graphs.split(","):
        loop = LOOPS[name]
        if loop.needs_data and not data_dir().is_dir():
            console.print(f"[yellow]{name}: skipped, shared recordings not found at {data_dir()}[/]")
            continue
        loops.append(loop)
    only = [f for f in args.faults.split(",") if f] or None
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        results = run_matrix(loops, only, Path(tmp), progress=lambda r: console.print(
            f"{r.graph} {escape(r.fault)}: safe after {r.safe_ms if r.safe_ms is None else round(r.safe_ms)} ms "
            f"(limit {r.limit_ms}), ended {r.ended}, edges add up "
            f"{len(r.edges) - len(r.unbalanced)}/{len(r.edges)} {r.error}"))
    console.print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=2, default=str))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
