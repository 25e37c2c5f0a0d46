"""The supervisor of a graph placed on several hosts (`hosts:`): one `streamer run` on the
controlling machine drives the agents (streamer.agent) of the other hosts and runs the
nodes of its own host, if it is one of them, itself.

It is the one-machine supervisor (streamer.runner) with the processes of other hosts
reached through their agents: restarts, failure policies, the safe state on every way a
run ends, `--duration` and Ctrl-C work alike. Edges within a host stay ipc (inproc within
a group); edges between hosts are tcp to the receiving host's address, with CURVE: each
host's nodes use its key pair and admit the graph's public keys only.

Clocks: the controller measures each agent's offset by round trips every CLOCK_PERIOD_S
(as LSL does): the offset of the round trips with the shortest delay, and the drift as
the slope of those offsets over time; shown live and written with the figures. The nodes
of other hosts get the offset when they start and every OFFSET_UPDATE_S, and stamp
`t_origin` on the controller's clock (streams.now), so latencies across hosts, the gate's
staleness and recordings' times are on one clock.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from . import security
from .graph import Graph
from .hosts import CONTROLLER, Host, free_port, is_local
from .runner import Runner, Unit
from .states import NodeState
from .wire import pack, unpack

HELLO_TIMEOUT_S = 10.0
AGENT_SILENT_S = 3.0        # then its nodes show as unresponsive (a link down?)
CLOCK_PERIOD_S = 0.25
CLOCK_WINDOW = 240          # round trips kept (a minute)
CLOCK_PRINT_S = 10.0
OFFSET_UPDATE_S = 5.0


class AgentUnreachable(RuntimeError):
    pass


class ClockEstimate:
    """Offset (agent - controller) and drift from round trips, best ones first."""

    def __init__(self) -> None:
        self.samples: deque = deque(maxlen=CLOCK_WINDOW)  # (t_mid, offset, rtt), controller's clock

    def add(self, t0: float, t_agent: float, t1: float) -> None:
        self.samples.append(((t0 + t1) / 2, t_agent - (t0 + t1) / 2, t1 - t0))

    def figures(self) -> dict[str, float | int | None]:
        if not self.samples:
            return {"offset_ms": None, "rtt_ms": None, "drift_ppm": None, "round_trips": 0}
        s = np.asarray(self.samples)
        best = s[s[:, 2] <= np.quantile(s[:, 2], 0.25)]  # the least delayed quarter
        drift = None
        if len(best) >= 4 and np.ptp(best[:, 0]) > 1.0:
            drift = float(np.polyfit(best[:, 0] - best[0, 0], best[:, 1], 1)[0] * 1e6)
        return {"offset_ms": float(np.median(best[:, 1]) * 1e3), "rtt_ms": float(np.median(s[:, 2]) * 1e3),
                "rtt_min_ms": float(s[:, 2].min() * 1e3), "drift_ppm": drift, "round_trips": len(s)}


class AgentLink:
    """The controller's CURVE DEALER to one host's agent."""

    def __init__(self, ctx: zmq.Context, host: Host, keys: security.KeyPair, server_key: str,
                 identity: bytes) -> None:
        self.host = host
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        # One name for the whole run: a connection made again after a break is the same peer.
        self.sock.setsockopt(zmq.IDENTITY, identity)
        self.sock.setsockopt(zmq.SNDHWM, 10000)
        security.client(self.sock, keys.as_dict(), server_key)
        self.sock.connect(host.agent_endpoint)
        self.clock = ClockEstimate()
        self.last_heard = time.monotonic()
        self.silent = False
        self.run_dir = ""
        self.ports: list[int] = []

    def send(self, kind: str, **body: Any) -> None:
        try:
            self.sock.send(pack({"kind": kind, **body}), zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def hello(self, ports: int) -> None:
        self.send("hello", ports=ports, address=self.host.bind_address)
        deadline = time.monotonic() + HELLO_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.sock.poll(100):
                msg = unpack(self.sock.recv())
                if msg.get("kind") == "hello":
                    self.run_dir, self.ports = msg["run_dir"], list(msg["ports"])
                    self.last_heard = time.monotonic()
                    self.first_offset()
                    return
        raise AgentUnreachable(
            f"host {self.host.name!r}: no answer from its agent at {self.host.agent_endpoint} within "
            f"{HELLO_TIMEOUT_S:.0f} s; start it there with `streamer agent --host {self.host.name} --keys "
            f"FOLDER --listen {self.host.bind_address}` and check that its FOLDER/controller.key is this "
            "controller's public key")


    def first_offset(self, rounds: int = 8) -> None:
        """A first estimate of the clock offset, before any node starts on the host."""
        for _ in range(rounds):
            self.send("clock", t0=time.monotonic())
            if self.sock.poll(1000):
                msg = unpack(self.sock.recv())
                if msg.get("kind") == "clock":
                    self.clock.add(msg["t0"], msg["t"], time.monotonic())

    @property
    def offset_s(self) -> float:
        """The agent's clock minus the controller's (0 until measured)."""
        offset = self.clock.figures()["offset_ms"]
        return 0.0 if offset is None else offset / 1e3


class RemoteProc:
    """A worker on another host, as the supervisor sees a subprocess."""

    def __init__(self, runner: ClusterRunner, link: AgentLink, unit: str) -> None:
        self.runner, self.link, self.unit = runner, link, unit
        self.pid: int | None = None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"{self.unit}@{self.link.host.name}", timeout)
            self.runner._poll_control(20)
        return self.returncode

    def kill_group(self) -> None:
        if self.returncode is None:
            self.link.send("kill", unit=self.unit)


class ClusterRunner(Runner):
    def __init__(self, graph: Graph, here: str | None = None, **kwargs: Any) -> None:
        super().__init__(graph, **kwargs)
        self.hosts = graph.hosts
        if here is not None and here not in self.hosts:
            raise ValueError(f"--host {here!r}: the graph's hosts are {', '.join(self.hosts)}")
        if here is None:  # the host whose address is this machine's, if any
            here = next((h.name for h in self.hosts.values() if is_local(h.bind_address)), None)
        self.here = here
        # Nodes the runtime adds (the console) run on the controller's host.
        unplaced = [n for n, s in graph.nodes.items() if s.host is None]
        if unplaced and here is None:
            raise ValueError(f"{', '.join(unplaced)} run(s) on the controller, which is none of the graph's "
                             "hosts: run `streamer run` on one of them (--host NAME)")
        self.node_host = {n: s.host or here for n, s in graph.nodes.items()}
        self.links: dict[str, AgentLink] = {}
        self.remote_counters: dict[str, dict] = {}
        self.agent_ctx = zmq.Context()
        self._next_clock = 0.0
        self._next_offsets = time.monotonic() + OFFSET_UPDATE_S
        self._next_clock_print = time.monotonic() + 2.0

    def remote(self, node: str) -> bool:
        return self.node_host[node] != self.here

    # -- wiring ---------------------------------------------------------------------
    def _endpoints(self) -> None:
        super()._endpoints()
        keys_dir = self.graph.keys
        self.public = {h: security.public_key(keys_dir, h) for h in self.hosts}
        self.local_keys = security.key_pair(keys_dir, self.here) if self.here else None
        controller = security.key_pair(keys_dir, CONTROLLER)
        used = {self.node_host[n] for n in self.graph.nodes} - {self.here}
        # A node takes tcp when an edge comes to it from another host (or it asks for tcp).
        tcp = {n for n, s in self.graph.nodes.items() if s.transport == "tcp"}
        tcp |= {e.dst for e in self.graph.edges if self.node_host[e.src] != self.node_host[e.dst]}
        for name in sorted(used):
            link = AgentLink(self.agent_ctx, self.hosts[name], controller, self.public[name],
                             f"controller-{os.getpid()}-{self.epoch}".encode())
            self.links[name] = link
            link.hello(sum(1 for n in tcp if self.node_host[n] == name and not self.graph.nodes[n].tcp_port))
        self.tcp_bind: dict[str, str] = {}
        for name, spec in self.graph.nodes.items():
            host = self.hosts[self.node_host[name]]
            run_dir = self.links[host.name].run_dir if self.remote(name) else self.run_dir
            self.external[name] = f"ipc://{run_dir}/{name}"
            if name in tcp:
                port = spec.tcp_port or (self.links[host.name].ports.pop() if self.remote(name)
                                         else free_port(host.bind_address))
                self.tcp_bind[name] = host.tcp(port, bind=True)
                self.tcp_bind[name + ">"] = host.tcp(port)
        self.run_keys = None

    def _node_spec(self, name: str, incarnation: int) -> dict:
        spec = super()._node_spec(name, incarnation)
        host = self.node_host[name]
        if name in self.tcp_bind:
            spec["bind"].append(self.tcp_bind[name])
        for e, out in zip(self.graph.outgoing(name), spec["out_edges"]):
            dst_host = self.node_host[e.dst]
            if dst_host != host or (self.graph.nodes[e.dst].transport == "tcp" and self.graph.nodes[e.dst].unit
                                     != self.graph.nodes[name].unit):
                out["endpoint"] = self.tcp_bind[e.dst + ">"]
                out["server_key"] = self.public[dst_host]
        return spec

    def _server_key(self, node: str) -> str | None:
        return self.public[self.node_host[node]]

    def _security(self, unit: Unit) -> dict | None:
        allow = {"allow": sorted(self.public.values())}
        if self.remote(unit.nodes[0]):
            return allow  # the agent adds its host's own key pair
        if self.local_keys is None:
            return None
        return {**allow, **self.local_keys.as_dict()}

    def _counters_path(self, node: str) -> str:
        if self.remote(node):
            return os.path.join(self.links[self.node_host[node]].run_dir, f"{node}.counters")
        return super()._counters_path(node)

    def _counters(self, node: str) -> dict[str, dict]:
        if self.remote(node):  # the latest the agent or the worker reported
            known = self.remote_counters.get(node, {})
            zeros = super()._counters(node)  # the same keys, zeros (no such local file)
            return {k: {**zeros[k], **known.get(k, {})} for k in ("edges_in", "edges_out")}
        return super()._counters(node)

    def _start_process(self, unit: Unit, spec: dict) -> None:
        if not self.remote(unit.nodes[0]):
            return super()._start_process(unit, spec)
        link = self.links[self.node_host[unit.nodes[0]]]
        spec = dict(spec, python=next((self.graph.nodes[n].python for n in unit.nodes
                                       if self.graph.nodes[n].python), None), clock_offset_s=link.offset_s)
        unit.proc = RemoteProc(self, link, unit.name)
        link.send("spawn", unit=unit.name, spec=json.loads(json.dumps(spec, default=str)))

    # -- control --------------------------------------------------------------------
    def _send(self, unit: Unit, kind: str, **body: Any) -> None:
        if not self.remote(unit.nodes[0]):
            return super()._send(unit, kind, **body)
        self.links[self.node_host[unit.nodes[0]]].send("to", unit=unit.name, raw=pack({"kind": kind, **body}))

    def _poll_control(self, timeout_ms: int) -> None:
        self._clock_round()
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        for link in self.links.values():
            poller.register(link.sock, zmq.POLLIN)
        ready = dict(poller.poll(timeout_ms))
        if self.control in ready:
            super()._poll_control(0)
        for name, link in self.links.items():
            if link.sock in ready:
                self._from_agent(link)
        self._watch_links()

    def _from_agent(self, link: AgentLink) -> None:
        while True:
            try:
                msg = unpack(link.sock.recv(zmq.NOBLOCK))
            except zmq.Again:
                return
            t1 = time.monotonic()
            link.last_heard = t1
            kind = msg.get("kind")
            unit = self.units.get(msg.get("unit", "")) if hasattr(self, "units") else None
            if kind == "clock":
                link.clock.add(msg["t0"], msg["t"], t1)
            elif kind == "log":
                self.log_lines.put(msg["line"])
            elif unit is None or not isinstance(unit.proc, RemoteProc):
                continue
            elif kind == "spawned":
                unit.proc.pid = msg["pid"]
                for n in unit.nodes:
                    self.figures.nodes[n].pid = msg["pid"]
            elif kind == "from":
                body = unpack(msg["raw"])
                if body.get("kind") == "stats":
                    for n, stats in body.get("nodes", {}).items():
                        if n in unit.nodes:
                            self.remote_counters[n] = {k: stats.get(k, {}) for k in ("edges_in", "edges_out")}
                self._on_message(unit, body)
            elif kind == "exit":
                self.remote_counters.update(msg.get("counters") or {})
                unit.proc.returncode = int(msg["code"])

    def _clock_round(self) -> None:
        t = time.monotonic()
        if t >= self._next_clock:
            self._next_clock = t + CLOCK_PERIOD_S
            for link in self.links.values():
                link.send("clock", t0=time.monotonic())  # also the agent's sign of life from us
        if t >= self._next_offsets and hasattr(self, "units"):
            self._next_offsets = t + OFFSET_UPDATE_S
            for u in self.units.values():  # the remote nodes' clocks follow the estimate
                if isinstance(u.proc, RemoteProc) and not u.state.exited:
                    self._send(u, "clock", offset_s=u.proc.link.offset_s)
        if t >= self._next_clock_print and self.links and hasattr(self, "live_display"):
            self._next_clock_print = t + CLOCK_PRINT_S
            parts = []
            for name, link in self.links.items():
                f = link.clock.figures()
                if f["offset_ms"] is not None:
                    drift = f"{f['drift_ppm']:+.1f} ppm" if f["drift_ppm"] is not None else "drift n/a"
                    parts.append(f"{name} {f['offset_ms']:+.3f} ms (rtt {f['rtt_ms']:.2f} ms, {drift})")
            if parts:
                self._print("clock offsets to the controller: " + "; ".join(parts))

    def _watch_links(self) -> None:
        t = time.monotonic()
        for name, link in self.links.items():
            silent = t - link.last_heard > AGENT_SILENT_S
            if silent and not link.silent:
                self._print(f"[yellow]host {name!r}: no word from its agent for {AGENT_SILENT_S:.0f} s "
                            "(link down?); its gates hold the safe state on their own[/]")
                for u in getattr(self, "units", {}).values():
                    if self.node_host[u.nodes[0]] == name and not u.state.exited:
                        for n in u.nodes:
                            self.figures.nodes[n].state = NodeState.UNRESPONSIVE
            elif link.silent and not silent:
                self._print(f"host {name!r}: its agent answers again")
            link.silent = silent

    def hosts_figures(self) -> dict[str, dict]:
        return {name: {"address": link.host.address, **link.clock.figures()} for name, link in self.links.items()}

    # -- the end --------------------------------------------------------------------
    def _shutdown(self) -> None:
        super()._shutdown()
        for link in self.links.values():
            link.send("bye")

    def run(self) -> int:
        try:
            code = super().run()
        except (AgentUnreachable, OSError, ValueError) as exc:  # before any node started
            self.console.print(f"[red]{exc}[/]", highlight=False, soft_wrap=True)
            code = 1
            for link in self.links.values():
                link.send("bye")
            if getattr(self, "run_dir", None):
                shutil.rmtree(self.run_dir, ignore_errors=True)
        finally:
            for link in self.links.values():
                link.sock.setsockopt(zmq.LINGER, 500)  # the bye goes out
                link.sock.close()
            self.agent_ctx.term()
        if self.stats_json and Path(self.stats_json).exists():
            stats = json.loads(Path(self.stats_json).read_text())
            stats["hosts"] = self.hosts_figures()
            stats["controller_host"] = self.here
            Path(self.stats_json).write_text(json.dumps(stats, indent=2, default=str))
        return code
