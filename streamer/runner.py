"""The supervisor: starts one worker process per unit (a node or a group), wires them,
watches them, applies each node's failure policy, shows live figures, and stops
everything through the safe state.

Workers run in their own session and process group (so a Ctrl-C in the terminal reaches
the supervisor only, which then stops them in order, and whatever a node starts dies with
its worker) and learn of the supervisor's death from Linux (PR_SET_PDEATHSIG), which
they treat as a stop. All sockets and counters live in a private run directory, removed
at the end; the run directories of a supervisor that was killed are removed at the next
start.
"""
from __future__ import annotations

import json
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from . import counters, security
from .graph import Graph
from .figures import GraphFigures
from .live import table
from .process import die_with_parent
from .states import NodeState, OnFailure, UnitState
from .wire import pack, unpack

READY_TIMEOUT_S = 120.0   # node start() may compile kernels or open devices
STOP_GRACE_S = 1.5        # then SIGKILL: everything is gone within 2 s
HEARTBEAT_TIMEOUT_S = 10.0
RUN_DIR_PREFIX = "streamer-"


@dataclass
class Unit:
    name: str
    nodes: list[str]
    python: str
    on_failure: OnFailure
    max_restarts: int
    optional: bool              # every node of it is optional: detach rather than stop
    proc: subprocess.Popen | None = None
    state: UnitState = UnitState.STARTING
    restarts: int = 0
    clean: bool = False
    last_seen: float = 0.0
    spec_path: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def failed_for_good(self) -> bool:
        return self.state in (UnitState.FAILED, UnitState.DETACHED)


class Runner:
    def __init__(self, graph: Graph, duration_s: float | None = None, stats_json: str | None = None,
                 live: bool | None = None, console: Console | None = None, log_level: str = "INFO",
                 until: list[str] | tuple[str, ...] = ()) -> None:
        self.graph = graph
        self.duration_s = duration_s
        # Nodes whose end ends the run (a cue paradigm's last trial), through the same stop
        # as --duration; a source that never ends (an amplifier) is stopped with them.
        self.until = tuple(until)
        self.stats_json = stats_json
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        self.log_level = log_level
        self.figures = GraphFigures(graph)
        self.stop_requested = False
        self.going = False  # the graph was told to go
        self.t_stop: float | None = None  # host monotonic time of the stop request
        self.signals = 0
        self.failures = 0
        self.reason = ""
        self.epoch = random.getrandbits(31)  # this run's id on every message
        self._next_share = 0.0
        self.log_lines: queue.SimpleQueue = queue.SimpleQueue()

    # -- wiring ---------------------------------------------------------------------
    def _endpoints(self) -> None:
        remove_stale_run_dirs()
        self.run_dir = tempfile.mkdtemp(prefix=RUN_DIR_PREFIX, dir="/tmp")
        os.chmod(self.run_dir, 0o700)
        Path(self.run_dir, "supervisor.pid").write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
        self.control_endpoint = f"ipc://{self.run_dir}/control"
        self.external: dict[str, str] = {}
        for name, spec in self.graph.nodes.items():
            if spec.transport == "tcp":
                self.external[name] = f"tcp://127.0.0.1:{spec.tcp_port or _free_port()}"
            else:
                self.external[name] = f"ipc://{self.run_dir}/{name}"
        # Loopback tcp edges are authenticated too: a key pair of this run, which only the
        # run's own processes know (streamer.security).
        self.run_keys = security.ephemeral() if "tcp://" in " ".join(self.external.values()) else None

    def _server_key(self, node: str) -> str | None:
        """The CURVE public key of `node`'s tcp inbox."""
        return self.run_keys.public if self.run_keys else None

    def _security(self, unit: Unit) -> dict | None:
        """The unit's CURVE keys and the public keys it admits (None: no tcp)."""
        return {**self.run_keys.as_dict(), "allow": [self.run_keys.public]} if self.run_keys else None

    def _counters_path(self, node: str) -> str:
        return os.path.join(self.run_dir, f"{node}.counters")

    def _node_spec(self, name: str, incarnation: int) -> dict:
        g = self.graph
        spec = g.nodes[name]
        grouped = len(g.units()[spec.unit]) > 1
        bind = [self.external[name]] + ([f"inproc://{name}"] if grouped else [])
        out_edges = []
        for e in g.outgoing(name):
            same = g.nodes[e.dst].unit == spec.unit
            endpoint = f"inproc://{e.dst}" if same else self.external[e.dst]
            out_edges.append({"key": e.key, "src_port": e.src_port, "policy": e.policy,
                              "max_rate_hz": e.max_rate_hz, "endpoint": endpoint,
                              "server_key": self._server_key(e.dst) if endpoint.startswith("tcp://") else None})
        in_edges = [{"key": e.key, "dst_port": e.dst_port, "policy": e.policy} for e in g.incoming(name)]
        # The class by module path: a worker in another interpreter may lack the entry points.
        target = f"{spec.cls.__module__}:{spec.cls.__qualname__}"
        return {"name": name, "type": target, "params": spec.params, "bind": bind,
                "in_edges": in_edges, "out_edges": out_edges, "incarnation": incarnation,
                "counters": self._counters_path(name)}

    def _unit_spec(self, unit: Unit) -> dict:
        spec = {"unit": unit.name, "control": self.control_endpoint, "log_level": self.log_level,
                "epoch": self.epoch, "supervisor_pid": os.getpid(),
                "nodes": [self._node_spec(n, unit.restarts) for n in unit.nodes],
                # A failure that will be restarted must not end the streams: downstream
                # would finish and the next incarnation would send to nobody.
                "restarts_left": unit.on_failure == OnFailure.RESTART and unit.restarts < unit.max_restarts}
        keys = self._security(unit)
        if keys is not None:
            spec["security"] = keys
        return spec

    def _spawn(self, unit: Unit) -> None:
        self._start_process(unit, self._unit_spec(unit))
        unit.state = UnitState.STARTING
        unit.clean = False
        unit.last_seen = time.monotonic()
        for n in unit.nodes:
            self.figures.nodes[n].pid = unit.proc.pid
            self.figures.nodes[n].state = NodeState.STARTING

    def _start_process(self, unit: Unit, spec: dict) -> None:
        unit.spec_path = os.path.join(self.run_dir, f"{unit.name}.json")
        with open(unit.spec_path, "w") as f:
            json.dump(spec, f, default=str)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # Under the live table the workers' log lines come through a pipe and are printed
        # above it (written to the terminal directly, the table's redraws would erase them).
        piped = self.live_display is not None
        unit.proc = subprocess.Popen([unit.python, "-m", "streamer.worker", unit.spec_path],
                                     start_new_session=True, env=env, preexec_fn=die_with_parent,
                                     stderr=subprocess.PIPE if piped else None)
        if piped:
            threading.Thread(target=_forward_lines, args=(unit.proc.stderr, self.log_lines),
                             name=f"log-{unit.name}", daemon=True).start()

    def _units(self) -> dict[str, Unit]:
        units = {}
        for uname, nodes in self.graph.units().items():
            specs = [self.graph.nodes[n] for n in nodes]
            policies = {s.on_failure for s in specs}
            # One process for all: restarted if any node asks for it (the others start again
            # with it), else the graph stops if any node asks for that, else it is detached.
            policy = next(p for p in (OnFailure.RESTART, OnFailure.STOP, OnFailure.DETACH) if p in policies)
            max_r = min((s.max_restarts for s in specs if s.on_failure == OnFailure.RESTART), default=0)
            python = next((s.python for s in specs if s.python), None) or sys.executable
            optional = all(s.cls is not None and s.cls.optional for s in specs)
            units[uname] = Unit(uname, nodes, python, policy, max_r, optional)
        return units

    # -- control --------------------------------------------------------------------
    def _send(self, unit: Unit, kind: str, **body: Any) -> None:
        try:
            self.control.send_multipart([unit.name.encode(), pack({"kind": kind, **body})], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def _on_message(self, unit: Unit, msg: dict) -> None:
        unit.last_seen = time.monotonic()
        kind = msg.get("kind")
        if kind == "ready":
            unit.state = UnitState.READY
        elif kind == "stats":
            for name, stats in msg.get("nodes", {}).items():
                if name in self.figures.nodes and name in unit.nodes:
                    self.figures.nodes[name].update(stats)
        elif kind == "error":
            node = msg.get("node") or unit.name
            tb = msg.get("traceback", "")
            unit.errors.append(tb)
            if node in self.figures.nodes:
                self.figures.nodes[node].errors.append(tb.strip().splitlines()[-1] if tb.strip() else "error")
                self.figures.nodes[node].state = NodeState.FAILED
            # A one-line error says what to do (no camera...): on the same line, nothing else.
            sep = " " if len(tb.strip().splitlines()) == 1 else "\n"
            self._print(f"[red]node {node!r} failed:[/]{sep}{escape(tb.strip())}")
        elif kind == "done":
            unit.clean = bool(msg.get("clean"))
            if unit.clean:
                unit.state = UnitState.DRAINING

    def _share_figures(self) -> None:
        """The figures, for units with a node that shows them (the console), 4 per second."""
        t = time.monotonic()
        if t < self._next_share:
            return
        self._next_share = t + 0.25
        units = [u for u in self.units.values() if u.proc is not None and not u.state.exited
                 and any(getattr(self.graph.nodes[n].cls, "takes_figures", False) for n in u.nodes)]
        if units:
            figures = self.figures.live_json()
            for unit in units:
                self._send(unit, "figures", figures=figures)

    def _print_logs(self) -> None:
        while True:
            try:
                line = self.log_lines.get_nowait()
            except queue.Empty:
                return
            if self.live_display is not None:
                self.live_display.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                sys.stderr.write(line + "\n")

    def _print(self, text: str) -> None:
        if self.live_display is not None:
            self.live_display.console.print(text)
        else:
            self.console.print(text)

    def _counters(self, node: str) -> dict[str, dict]:
        """A node's edge counters, exact, from its file (a killed process reports nothing)."""
        return counters.read(self._counters_path(node), [e.key for e in self.graph.incoming(node)],
                             [e.key for e in self.graph.outgoing(node)])

    def _read_counters(self, unit: Unit) -> None:
        for n in unit.nodes:
            self.figures.nodes[n].set_edges(self._counters(n))

    def _on_exit(self, unit: Unit) -> None:
        code = unit.proc.returncode
        _kill_group(unit)  # whatever its nodes started goes with it
        self._read_counters(unit)
        if self.stop_requested and code in (0, -signal.SIGKILL, -signal.SIGTERM):
            unit.state = UnitState.STOPPED
            self._set_nodes(unit, NodeState.STOPPED, keep=(NodeState.FINISHED, NodeState.FAILED))
            return
        if code == 0:
            unit.state = UnitState.DONE
            self._set_nodes(unit, NodeState.FINISHED if unit.clean else NodeState.STOPPED,
                            keep=(NodeState.FINISHED,))
            return
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        self.failures += 1
        for n in unit.nodes:
            f = self.figures.nodes[n]
            f.errors.append(how)
            f.state = NodeState.FAILED
        if unit.on_failure == OnFailure.RESTART and unit.restarts < unit.max_restarts and not self.stop_requested:
            unit.restarts += 1
            self._print(f"[yellow]{unit.name} {how}; restarting ({unit.restarts}/{unit.max_restarts})[/]")
            for n in unit.nodes:
                f = self.figures.nodes[n]
                f.new_incarnation()
                f.restarts = unit.restarts
                f.state = NodeState.RESTARTING
            self._spawn(unit)
            return
        detach = unit.on_failure == OnFailure.DETACH or (unit.on_failure == OnFailure.RESTART and unit.optional)
        if self.stop_requested:
            unit.state = UnitState.FAILED
            return
        dead = set(unit.nodes)
        ended = [e.key for e in self.graph.edges if e.src in dead and e.dst not in dead]
        cut = [e.key for e in self.graph.edges if e.dst in dead and e.src not in dead]
        if detach:
            unit.state = UnitState.DETACHED
            self._set_nodes(unit, NodeState.DETACHED)
            self._print(f"[yellow]{unit.name} {how}; detached (on_failure: {unit.on_failure}): the graph "
                        "goes on without it and counts what it would have received as dropped[/]")
        else:
            unit.state = UnitState.FAILED
            self._print(f"[red]{unit.name} {how}; stopping the graph (on_failure: {unit.on_failure})[/]")
            self._request_stop(f"{unit.name} failed" if self.going else "start failed")
        for other in self.units.values():
            if other is not unit and other.proc is not None and other.proc.poll() is None:
                # Downstream must not wait for data that will never come, upstream must not
                # wait for a receiver that will never read.
                self._send(other, "ended", edges=ended)
                self._send(other, "detach", edges=cut)

    def _set_nodes(self, unit: Unit, state: NodeState, keep: tuple = ()) -> None:
        for n in unit.nodes:
            if self.figures.nodes[n].state not in keep:
                self.figures.nodes[n].state = state

    # -- main loop ------------------------------------------------------------------
    def run(self) -> int:
        self._endpoints()
        self.ctx = zmq.Context()
        self.control = self.ctx.socket(zmq.ROUTER)
        self.control.setsockopt(zmq.LINGER, 0)
        self.control.bind(self.control_endpoint)
        self.units = self._units()
        self.by_id = {u.name.encode(): u for u in self.units.values()}
        self.live_display: Live | None = None
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        t_start = time.monotonic()
        try:
            if self.live:
                self.live_display = Live(table(self.figures, self.console.width), console=self.console,
                                         refresh_per_second=4, transient=False)
                self.live_display.start()
            for unit in self.units.values():
                self._spawn(unit)
            self._wait_ready()
            self.going = True
            t_start = time.monotonic()
            self.figures.t_start = t_start
            for unit in self.units.values():
                if unit.state == UnitState.READY and not self.stop_requested:
                    unit.state = UnitState.RUNNING
                    self._send(unit, "go")
            self._supervise(t_start)
        finally:
            self._shutdown()
            time.sleep(0.05)  # the pipes' last lines
            self._print_logs()
            if self.live_display is not None:
                self.live_display.update(table(self.figures, self.console.width))
                self.live_display.stop()
            elif self.live is False and self.console is not None:
                self.console.print(table(self.figures, self.console.width))
            for s, h in old.items():
                signal.signal(s, h)
            code = self._exit_code()
            if self.stats_json:
                Path(self.stats_json).write_text(json.dumps(
                    self.figures.to_json(clean=code == 0, exit_code=code, reason=self.reason,
                                         failures=self.failures, t_stop=self.t_stop),
                    indent=2, default=str))
            self.control.close()
            self.ctx.term()
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return code

    def _request_stop(self, reason: str) -> None:
        if not self.stop_requested:
            self.stop_requested = True
            self.t_stop = time.monotonic()
        self.reason = self.reason or reason

    def _exit_code(self) -> int:
        if self.failures or any(u.failed_for_good for u in self.units.values()):
            return 1
        return 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        if self.signals > 1:  # a second Ctrl-C: no more waiting
            for unit in self.units.values():
                _kill_group(unit)
        self._request_stop(signal.Signals(signum).name)

    def _poll_control(self, timeout_ms: int) -> None:
        if self.control.poll(timeout_ms):
            while True:
                try:
                    ident, raw = self.control.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                unit = self.by_id.get(ident)
                if unit is not None:
                    self._on_message(unit, unpack(raw))

    def _check_exits(self) -> None:
        for unit in self.units.values():
            if unit.proc is not None and not unit.state.exited and unit.proc.poll() is not None:
                self._poll_control(0)  # collect its last words (traceback, final stats)
                self._on_exit(unit)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.stop_requested:
            self._poll_control(50)
            self._check_exits()
            self._share_figures()
            self._print_logs()
            if self.live_display is not None:
                self.live_display.update(table(self.figures, self.console.width))
            failed = [u.name for u in self.units.values() if u.failed_for_good]
            if failed:
                # A graph with a node that cannot start (no camera, no file) does not run:
                # its downstream would wait for data that never comes.
                self._print(f"[red]not starting the graph: {', '.join(failed)} failed to start[/]")
                self._request_stop("start failed")
                return
            pending = [u for u in self.units.values() if u.state == UnitState.STARTING]
            if not pending:
                return
            if time.monotonic() > deadline:
                self._print(f"[red]not ready after {READY_TIMEOUT_S:.0f} s: {', '.join(u.name for u in pending)}[/]")
                self.failures += 1
                self._request_stop("start timeout")
                return

    def _supervise(self, t_start: float) -> None:
        last_draw = 0.0
        while not self.stop_requested:
            self._poll_control(50)
            self._check_exits()
            self._share_figures()
            self._print_logs()
            for unit in self.units.values():
                if unit.state == UnitState.READY:  # a restarted unit
                    unit.state = UnitState.RUNNING
                    self._send(unit, "go")
                    self._end_again_into(unit)
                elif unit.state == UnitState.DRAINING and self._drained(unit):
                    unit.state = UnitState.RELEASED
                    self._send(unit, "release")
            now = time.monotonic()
            for unit in self.units.values():
                if unit.state == UnitState.RUNNING and now - unit.last_seen > HEARTBEAT_TIMEOUT_S:
                    for n in unit.nodes:  # alive but silent: shown, not killed (it may be in a long call)
                        self.figures.nodes[n].state = NodeState.UNRESPONSIVE
            if self.live_display is not None and now - last_draw > 0.25:
                self.live_display.update(table(self.figures, self.console.width))
                last_draw = now
            if self.duration_s is not None and now - t_start >= self.duration_s:
                self._request_stop("duration")
            if self.until and all(self.units[self.graph.nodes[n].unit].state.exited for n in self.until):
                self._request_stop(f"{', '.join(self.until)} ended")
            if all(u.state.exited for u in self.units.values()):
                self.reason = self.reason or "finished"
                return

    def _end_again_into(self, unit: Unit) -> None:
        """Upstream units that finished and wait for `unit` to take their end of stream: that
        end may have died in the queues of the incarnation that failed, so they send it again
        (a second end is harmless). Without it the restarted node waits for ever."""
        for up in self.units.values():
            if up is unit or up.state != UnitState.DRAINING:
                continue
            keys = [e.key for e in self.graph.edges if e.src in up.nodes and e.dst in unit.nodes]
            if keys:
                self._send(up, "end_again", edges=keys)

    def _drained(self, unit: Unit) -> bool:
        """Every node downstream of this unit has received its end of stream (or is gone)."""
        for e in self.graph.edges:
            if e.src not in unit.nodes or e.dst in unit.nodes:
                continue
            dst = self.units[self.graph.nodes[e.dst].unit]
            if dst.state.exited or dst.state in (UnitState.DRAINING, UnitState.RELEASED):
                continue
            if not self._counters(e.dst)["edges_in"][e.key]["ended"]:
                return False
        return True

    def _shutdown(self) -> None:
        """Stop every worker: each sends its nodes' last words (the gate's safe command,
        which the actuators wait for), then exits; what has not exited after
        STOP_GRACE_S is killed."""
        alive = [u for u in self.units.values() if u.proc is not None and u.proc.poll() is None]
        for unit in alive:
            self._send(unit, "stop")
        deadline = time.monotonic() + STOP_GRACE_S
        while alive and time.monotonic() < deadline:
            self._poll_control(20)
            alive = [u for u in alive if u.proc.poll() is None]
        for unit in alive:
            _kill_group(unit)
        for unit in self.units.values():
            if unit.proc is not None:
                try:
                    unit.proc.wait(timeout=0.4)
                except subprocess.TimeoutExpired:
                    pass
        self._poll_control(0)
        self._check_exits()
        for unit in self.units.values():
            self._read_counters(unit)


def _forward_lines(pipe: Any, lines: queue.SimpleQueue) -> None:
    """A worker's stderr, line by line, to the supervisor's terminal (ends with the worker)."""
    with pipe:
        for raw in iter(pipe.readline, b""):
            lines.put(raw.decode("utf-8", "replace").rstrip("\n"))


def _kill_group(unit: Unit) -> None:
    """SIGKILL the unit's process group: its worker, and whatever its nodes started."""
    if unit.proc is None:
        return
    remote = getattr(unit.proc, "kill_group", None)  # a worker on another host: its agent kills it
    if remote is not None:
        remote()
        return
    try:
        os.killpg(unit.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _start_time(pid: int) -> str:
    """The kernel's start time of a process (tells a reused pid from the original)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def remove_stale_run_dirs(parent: str = "/tmp") -> list[str]:
    """Remove the run directories of supervisors that no longer run (killed with SIGKILL,
    they could not clean up; their workers stopped by themselves)."""
    removed = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        if not entry.startswith(RUN_DIR_PREFIX):
            continue
        path = os.path.join(parent, entry)
        try:
            pid_text, start = Path(path, "supervisor.pid").read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if _start_time(pid) == start:
            continue  # still running
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_graph(graph: Graph, **kwargs: Any) -> int:
    return Runner(graph, **kwargs).run()
