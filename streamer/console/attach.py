"""`streamer run --ui`: the console joins the graph as one more node, fed by `latest`
edges from the streams it shows and feeding the gates' and recorders' control ports."""
from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import dataclass, field

from ..graph import EdgeSpec, Graph, GraphError, NodeSpec, Problem
from ..node import WILDCARD
from ..states import OnFailure
from ..streams import ARRAY_STREAMS

# Chunks of an array stream sent to the console per second at most: one per page frame at
# 60 frames/s (sample streams come in chunks of 20 ms and more: all of them pass).
VIEW_RATE_HZ = 60.0


@dataclass
class UiOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    view: list[str] | None = None   # "node" or "node.port"; None: every output
    token: str = field(default="")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _plain(v: object) -> object:
    return json.loads(json.dumps(v, default=str))


def attach(graph: Graph, options: UiOptions) -> tuple[Graph, UiOptions]:
    """The graph with a console node added; a token is made when it serves beyond loopback."""
    from .node import Console
    from ..record_nodes import Record

    if not loopback(options.host) and not options.token:
        options.token = secrets.token_urlsafe(24)
    name = next(n for n in ("console", "console_ui", "operator_console") if n not in graph.nodes)
    wanted = None if options.view is None else set(options.view)
    problems = []
    for v in options.view or []:
        node, _, port = v.partition(".")
        spec = graph.nodes.get(node)
        if spec is None or (port and port not in spec.outputs):
            problems.append(Problem(graph.file, 0, node, f"ui view {v!r}: no such node or output "
                                    f"(outputs: {', '.join(spec.outputs) if spec else '-'})"))
    if problems:
        raise GraphError(problems)
    edges, names = [], {}
    for n, spec in graph.nodes.items():
        for port in spec.outputs:
            if wanted is not None and n not in wanted and f"{n}.{port}" not in wanted:
                continue
            dst_port = f"{n}__{port}"
            names[dst_port] = f"{n}.{port}"
            # Arrays (events, samples...) at most VIEW_RATE_HZ: a view draws ~30 frames/s, and
            # a sender at full speed would otherwise encode and copy every chunk for it.
            stream = spec.outputs[port].stream
            arrays = all(s in ARRAY_STREAMS for s in ((stream,) if isinstance(stream, str) else stream))
            edges.append(EdgeSpec(n, port, name, dst_port, "latest", max_rate_hz=VIEW_RATE_HZ if arrays else None))
    gates = [n for n, s in graph.nodes.items() if s.cls is not None and "control" in s.cls.control_inputs
             and s.cls.safe_port]
    recorders = [n for n, s in graph.nodes.items() if s.cls is not None and issubclass(s.cls, Record)]
    edges += [EdgeSpec(name, "control", g, "control") for g in gates]
    edges += [EdgeSpec(name, "markers", r, "console_markers") for r in recorders]
    edges += [EdgeSpec(name, "record", r, "control") for r in recorders]
    drawn = {"name": graph.name, "file": graph.file,
             "nodes": {n: {"type": s.type, "role": s.cls.role if s.cls else "?", "group": s.group,
                           "params": _plain(s.params),
                           "outputs": {p: port.stream_names for p, port in s.outputs.items()}}
                       for n, s in graph.nodes.items()},
             "edges": [{"src": e.src, "src_port": e.src_port, "dst": e.dst, "dst_port": e.dst_port,
                        "policy": e.policy, "key": e.key} for e in graph.edges]}
    params = {"address": options.host, "http_port": options.port, "token": options.token, "graph": drawn,
              "names": names, "gates": gates, "recorders": recorders}
    spec = NodeSpec(name, "console", params, cls=Console, inputs=dict(Console.inputs),
                    outputs=dict(Console.outputs), on_failure=OnFailure.DETACH, max_restarts=0)
    assert WILDCARD in spec.inputs
    return Graph(graph.name, graph.file, {**graph.nodes, name: spec}, graph.edges + edges), options
