"""The live table of a run's figures in the terminal (streamer.figures holds them)."""
from __future__ import annotations

import math
import time

from rich.table import Table

from .figures import GraphFigures
from .states import NodeState

STATE_COLOURS = {NodeState.RUNNING: "green", NodeState.FINISHED: "blue", NodeState.FAILED: "red",
                 NodeState.RESTARTING: "yellow", NodeState.DETACHED: "yellow"}


# Below this terminal width the table keeps the columns an operator reads at a glance.
COMPACT_BELOW = 140


def table(figures: GraphFigures, width: int | None = None) -> Table:
    """One row per node: rates, latency, queue, losses, restarts and its counters; in a
    narrow terminal (80 columns) fewer columns, names never cut."""
    compact = width is not None and width < COMPACT_BELOW
    edges = figures.edge_figures()
    elapsed = time.monotonic() - figures.t_start
    t = Table(title=f"{figures.graph.name} - {elapsed:.1f} s", expand=False, pad_edge=not compact,
              padding=(0, 1) if not compact else (0, 0, 0, 1))
    cols = ("node", "state", "msg/s", "p99 ms", "queue", "lost", "drop", "counters") if compact else \
        ("node", "type", "state", "msg/s", "items/s", "p50 ms", "p99 ms", "queue",
         "lost", "dropped", "rejected", "restarts", "counters")
    for col in cols:
        left = col in ("node", "type", "state", "counters")
        t.add_column(col, justify="left" if left else "right", no_wrap=col != "counters",
                     overflow="fold" if col == "counters" else "ellipsis",
                     ratio=1 if col == "counters" and compact else None)
    for name, f in figures.nodes.items():
        r = f.rates()
        row = figures.node_row(name, edges)
        source = f.role == "source"
        msgs = r["out_msgs"] if source else r["in_msgs"]
        items = r["out_items"] if source else r["in_items"]
        p50, p99 = f.recent_latency()
        lost = row["lost"]
        dropped = row["dropped"] + row["superseded"]
        state = str(f.state) + (f" ({f.backend})" if f.backend and not compact else "")
        colour = STATE_COLOURS.get(f.state, "")
        counters = f.counters()
        if compact:  # what tells right from wrong first
            first = [k for k in ("accuracy_pct", "actuation", "decisions") if k in counters]
            counters = {k: counters[k] for k in first + sorted(set(counters) - set(first))}
            restarts = f" r{f.restarts}" if f.restarts else ""
            rejected = f" rej {row['rejected']}" if row["rejected"] else ""
            t.add_row(name, (f"[{colour}]{state}[/]" if colour else state) + restarts + rejected, _si(msgs),
                      _ms(p99), str(row["queue"]), f"[red]{lost}[/]" if lost else "0",
                      f"[yellow]{_si(dropped)}[/]" if dropped else "0",
                      ", ".join(f"{k}={v}" for k, v in counters.items()))
            continue
        t.add_row(name, f.type, f"[{colour}]{state}[/]" if colour else state, f"{msgs:,.0f}", _si(items),
                  _ms(p50), _ms(p99), str(row["queue"]),
                  f"[red]{lost}[/]" if lost else "0", f"[yellow]{dropped}[/]" if dropped else "0",
                  f"[red]{row['rejected']}[/]" if row["rejected"] else "0",
                  f"[yellow]{f.restarts}[/]" if f.restarts else "0",
                  ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    return t


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1e3:.2f}"


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"
