"""A graph run pseudo-online: every node of the decoding path in this process, driven
directly (as in tests, no processes or sockets), the source unpaced, each message passed
on as soon as it is made, in the order a live run would see it. Every message is
stamped with the stream time at which it came out: the device time (s) of the newest
sample or event the source had sent by then, so a decision's time is when a live
decoder, fed at the sensor's pace, would have had it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..graph import Graph, NodeSpec
from ..node import EndOfStream, Node, Rejected, Source, Transform, emitted
from ..streams import DECISION, EVENTS, MARKER, SAMPLES, Message


@dataclass
class Stamped:
    msg: Message
    t_s: float           # stream time when it came out (device seconds)
    port: str = ""
    seq: int = 0         # order of coming out, over the whole pass


@dataclass
class Trace:
    """What a pass over recordings gave: the source's markers (the cues), each decoder's
    decisions and what arrived at its inputs."""

    cues: list[Stamped] = field(default_factory=list)
    decisions: dict[str, list[Stamped]] = field(default_factory=dict)
    inputs: dict[str, list[Stamped]] = field(default_factory=dict)
    end_s: float = math.nan


def decoders_of(graph: Graph) -> list[str]:
    """Nodes that make decisions from signals: a Decision output and no Decision input."""
    out = []
    for name, spec in graph.nodes.items():
        outs = [p.stream for p in spec.outputs.values()]
        ins = [p.stream for p in spec.inputs.values()]
        if DECISION in outs and DECISION not in ins:
            out.append(name)
    return out


def upstream(graph: Graph, nodes: list[str]) -> set[str]:
    """`nodes` and every node that feeds them, directly or not."""
    seen, todo = set(nodes), list(nodes)
    while todo:
        for e in graph.incoming(todo.pop()):
            if e.src not in seen:
                seen.add(e.src)
                todo.append(e.src)
    return seen


def source_of(graph: Graph, keep: set[str], name: str | None) -> str:
    sources = [n for n in keep if graph.nodes[n].cls is not None and issubclass(graph.nodes[n].cls, Source)]
    if name is not None:
        if name not in graph.nodes:
            raise ValueError(f"{graph.file}: no node {name!r} (nodes: {', '.join(graph.nodes)})")
        return name
    if len(sources) != 1:
        raise ValueError(f"{graph.file}: the decoders are fed by {len(sources)} sources ({', '.join(sorted(sources))}); "
                         "name the one that reads the recordings with --source")
    return sources[0]


def _stream_end(msg: Message) -> float:
    if msg.stream == SAMPLES and msg.data.ndim == 2:
        return float(msg.meta.get("t_first_s", 0.0)) + msg.data.shape[1] / float(msg.meta["sfreq"])
    if msg.stream == EVENTS and len(msg.data):
        return float(msg.data["t"][-1]) * 1e-6
    return math.nan


class PseudoOnline:
    """Runs the nodes `keep` of `graph` (fresh instances) over what the source gives;
    `params` overrides the parameters of some nodes ({node: {param: value}}). What reaches
    the nodes `watch` (run or not) is kept in the trace's inputs."""

    def __init__(self, graph: Graph, keep: set[str], source: str, decoders: list[str],
                 params: dict[str, dict[str, Any]] | None = None, watch: list[str] | None = None) -> None:
        self.graph, self.source, self.decoders = graph, source, decoders
        self.nodes: dict[str, Node] = {}
        for name in _topological(graph, keep):
            spec: NodeSpec = graph.nodes[name]
            node = spec.cls(**{**spec.params, **(params or {}).get(name, {})})
            node.name = name
            self.nodes[name] = node
        self.routes: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for e in graph.edges:
            if e.src in self.nodes and (e.dst in self.nodes or e.dst in (watch or ())):
                self.routes.setdefault((e.src, e.src_port), []).append((e.dst, e.dst_port))
        self.trace = Trace(decisions={d: [] for d in decoders}, inputs={d: [] for d in [*decoders, *(watch or ())]})
        self.t_s = -math.inf
        self.seq = 0
        self.rejected: dict[str, str] = {}  # node -> last reason (counted as the runtime counts them)

    def _stamp(self, msg: Message, port: str) -> Stamped:
        self.seq += 1
        return Stamped(msg, self.t_s, port, self.seq)

    def run(self) -> Trace:
        for node in self.nodes.values():
            node.start()
        try:
            src = self.nodes[self.source]
            while True:
                try:
                    out = src.produce()
                except EndOfStream:
                    break
                for port, msg in emitted(src, out):
                    end = _stream_end(msg)
                    if math.isfinite(end):
                        self.t_s = max(self.t_s, end)
                    if msg.stream == MARKER:
                        self.trace.cues.append(self._stamp(msg, port))
                    self._route(self.source, port, msg)
            for name, node in self.nodes.items():  # in order: what one finishes, the next takes
                if isinstance(node, Transform):
                    for port, msg in emitted(node, node.finish()):
                        self._route(name, port, msg)
        finally:
            for node in self.nodes.values():
                node.stop()
        self.trace.end_s = self.t_s
        return self.trace

    def _route(self, name: str, port: str, msg: Message) -> None:
        if name in self.trace.decisions and msg.stream == DECISION:
            self.trace.decisions[name].append(self._stamp(msg, port))
        for dst, dst_port in self.routes.get((name, port), ()):
            if dst in self.trace.inputs:
                self.trace.inputs[dst].append(self._stamp(msg, dst_port))
            node = self.nodes.get(dst)
            if node is None:  # watched, not run
                continue
            try:
                made = node.receive(dst_port, msg)
            except Rejected as exc:  # refused and counted, as a live run does
                node.count("rejected")
                self.rejected[dst] = str(exc)
                continue
            for out_port, out in emitted(node, made):
                self._route(dst, out_port, out)


def _topological(graph: Graph, keep: set[str]) -> list[str]:
    order, seen = [], set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for e in graph.incoming(n):
            if e.src in keep:
                visit(e.src)
        order.append(n)

    for n in graph.nodes:
        if n in keep:
            visit(n)
    return order
