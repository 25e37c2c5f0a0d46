"""The figures of a run: per-node rates, latency, queues and losses, and per-edge counts,
as the supervisor gathers them (shown by streamer.live, written as JSON at the end).

Workers send cumulative counters every 0.25 s; counters of earlier incarnations of a
restarted node are kept, so totals run over the whole run. Figures among the counters that
are not counts (floats: accuracy_pct, mean_steps...) are not added up: the latest value
stands. Rates are taken over the last second.
"""
from __future__ import annotations

import collections
import math
import time
from typing import Any

import numpy as np

from .latency import NBINS, percentile
from .states import NodeState

SUMMED = ("in_msgs", "in_items", "out_msgs", "out_items")
RATE_WINDOW_S = 1.0


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class NodeFigures:
    def __init__(self, name: str, type_name: str, role: str) -> None:
        self.name, self.type, self.role = name, type_name, role
        self.state = NodeState.STARTING
        self.restarts = 0
        self.pid: int | None = None
        self.base = {k: 0 for k in SUMMED}
        self.base_latency = np.zeros(NBINS, dtype=np.int64)
        self.base_counters: collections.Counter = collections.Counter()
        self.base_gauges: dict[str, float] = {}
        self.base_rejected = 0
        self.current: dict[str, Any] = {}
        # Edge counters run over the node's incarnations by themselves (streamer.counters).
        self.edges: dict[str, dict] = {"edges_in": {}, "edges_out": {}}
        self.history: collections.deque = collections.deque()
        self.errors: list[str] = []
        self.last_rejection = ""
        self.backend = ""
        self.details: dict[str, Any] = {}

    # -- updates --------------------------------------------------------------------
    def update(self, stats: dict) -> None:
        self.current = stats
        for k in ("edges_in", "edges_out"):
            if k in stats:
                self.edges[k] = stats[k]
        if stats.get("details"):
            self.details = stats["details"]
            self.backend = str(self.details.get("backend", ""))
        if stats.get("last_rejection"):
            self.last_rejection = stats["last_rejection"]
        if self.state not in (NodeState.FAILED, NodeState.RESTARTING, NodeState.DETACHED) \
                or stats.get("state") == NodeState.RUNNING:
            self.state = NodeState(stats.get("state", self.state))
        t = time.monotonic()
        self.history.append((t, self.totals(), self.latency_counts()))
        while len(self.history) > 2 and t - self.history[1][0] >= RATE_WINDOW_S:
            self.history.popleft()

    def set_edges(self, edges: dict[str, dict]) -> None:
        """The exact edge counters, read from the node's counters file."""
        self.edges = edges

    def new_incarnation(self) -> None:
        """The node's process is restarted: fold the last figures into the base."""
        cur = self.current
        for k in SUMMED:
            self.base[k] += cur.get(k, 0)
        self.base_latency += np.asarray(cur.get("latency", np.zeros(NBINS)), dtype=np.int64)
        for k, v in cur.get("counters", {}).items():
            if _is_count(v):
                self.base_counters[k] += v
            else:
                self.base_gauges[k] = v
        self.base_rejected += cur.get("rejected", 0)
        self.current = {}

    # -- figures --------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        return {k: self.base[k] + self.current.get(k, 0) for k in SUMMED}

    def latency_counts(self) -> np.ndarray:
        return self.base_latency + np.asarray(self.current.get("latency", np.zeros(NBINS)), dtype=np.int64)

    def counters(self) -> dict[str, int | float]:
        """Counts summed over the node's incarnations; other figures as last reported."""
        c: dict[str, int | float] = {**self.base_gauges, **self.base_counters}
        for k, v in self.current.get("counters", {}).items():
            c[k] = c.get(k, 0) + v if _is_count(v) and k in self.base_counters else v
        return c

    def rejected(self) -> int:
        return self.base_rejected + self.current.get("rejected", 0)

    def edges_in(self) -> dict[str, dict]:
        return self.edges["edges_in"]

    def edges_out(self) -> dict[str, dict]:
        return self.edges["edges_out"]

    def rates(self) -> dict[str, float]:
        if len(self.history) < 2:
            return {k: 0.0 for k in SUMMED}
        (t0, a, _), (t1, b, _) = self.history[0], self.history[-1]
        dt = max(t1 - t0, 1e-9)
        return {k: (b[k] - a[k]) / dt for k in SUMMED}

    def recent_latency(self) -> tuple[float, float]:
        if len(self.history) < 2:
            counts = self.latency_counts()
        else:
            counts = self.history[-1][2] - self.history[0][2]
        return percentile(counts, 50), percentile(counts, 99)


class GraphFigures:
    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.nodes = {n: NodeFigures(n, s.type, s.cls.role if s.cls else "?") for n, s in graph.nodes.items()}
        self.t_start = time.monotonic()

    def edge_figures(self) -> dict[str, dict]:
        """Per edge: sent (emitted by the sender) = received + lost + rejected + dropped
        + queue (on the wire, not yet received)."""
        out = {}
        for e in self.graph.edges:
            sent = self.nodes[e.src].edges_out().get(e.key, {})
            recv = self.nodes[e.dst].edges_in().get(e.key, {})
            on_wire, dropped = sent.get("seq", 0), sent.get("dropped", 0)
            out[e.key] = {"policy": e.policy, "sent": on_wire + dropped, "dropped": dropped,
                          "received": recv.get("received", 0), "lost": recv.get("lost", 0),
                          "rejected": recv.get("rejected", 0), "superseded": recv.get("superseded", 0),
                          "queue": max(0, on_wire - recv.get("next_seq", 0)),
                          "ended": bool(recv.get("ended", 0))}
        return out

    def node_row(self, name: str, edges: dict[str, dict]) -> dict[str, Any]:
        f = self.nodes[name]
        ins = [edges[e.key] for e in self.graph.incoming(name)]
        outs = [edges[e.key] for e in self.graph.outgoing(name)]
        return {"queue": sum(e["queue"] for e in ins), "lost": sum(e["lost"] for e in ins),
                "superseded": sum(e["superseded"] for e in ins), "dropped": sum(e["dropped"] for e in outs),
                "rejected": f.rejected()}

    def live_json(self) -> dict:
        """What the console shows: per node its state, recent rates and latency, losses
        and counters; per edge its counts (the console takes rates from their changes)."""
        edges = self.edge_figures()
        nodes = {}
        for name, f in self.nodes.items():
            r = f.rates()
            p50, p99 = f.recent_latency()
            source = f.role == "source"
            nodes[name] = {"state": str(f.state), "backend": f.backend, "restarts": f.restarts,
                           "msgs_per_s": r["out_msgs"] if source else r["in_msgs"],
                           "items_per_s": r["out_items"] if source else r["in_items"],
                           "p50_ms": _num(p50 * 1e3), "p99_ms": _num(p99 * 1e3),
                           **self.node_row(name, edges), "counters": f.counters(),
                           "details": f.details, "error": f.errors[-1] if f.errors else ""}
        return {"elapsed_s": time.monotonic() - self.t_start, "t": time.monotonic(),
                "nodes": nodes, "edges": edges}

    def to_json(self, **extra: Any) -> dict:
        edges = self.edge_figures()
        elapsed = time.monotonic() - self.t_start
        nodes = {}
        for name, f in self.nodes.items():
            tot = f.totals()
            counts = f.latency_counts()
            row = self.node_row(name, edges)
            source = f.role == "source"
            nodes[name] = {
                "type": f.type, "role": f.role, "state": f.state, "restarts": f.restarts, "pid": f.pid,
                **tot,
                "msgs_per_s": (tot["out_msgs"] if source else tot["in_msgs"]) / max(elapsed, 1e-9),
                "items_per_s": (tot["out_items"] if source else tot["in_items"]) / max(elapsed, 1e-9),
                "latency_ms": {"p50": _num(percentile(counts, 50) * 1e3), "p99": _num(percentile(counts, 99) * 1e3),
                               "count": int(counts.sum())},
                **row, "counters": f.counters(), "errors": f.errors, "last_rejection": f.last_rejection,
                "backend": f.backend, "details": f.details,
            }
        return {"graph": self.graph.name, "file": self.graph.file, "elapsed_s": elapsed,
                "nodes": nodes, "edges": edges, **extra}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x
