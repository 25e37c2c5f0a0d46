"""Graph files: YAML -> a validated graph, every problem named by file, line and node.

    name: demo
    nodes:
      counter: {type: util.counter, count: 1000, rate_hz: 0}
      log:     {type: util.log, on_failure: restart, max_restarts: 3}
    edges:
      - counter -> log                                # default ports
      - counter.out -> log.in                         # explicit ports
      - {from: counter, to: view, policy: latest}     # delivery policy, transport

Node keys besides `type` that belong to the runtime, not to the node's parameters:
`group` (co-locate nodes in one process over inproc), `on_failure` (restart | stop |
detach; the default depends on the node type), `max_restarts`, `python` (interpreter for
this node's process; null: the runner's), `transport` (ipc | tcp for its inputs),
`tcp_port`, `host` (the machine it runs on, a name from the top-level `hosts:`; see
streamer.hosts). No node type may have a parameter of one of these names. Values may use
${VAR} or ${VAR:-default}.

An actuator fed by a gate's `out` takes the gate's safe command (`safe_action`,
`safe_value`) unless it sets its own: it sends it when it starts and before it closes.

Beyond types, parameters, ports and cycles, the check finds what would only fail once the
graph runs: input files that do not exist (parameters marked as paths, streamer.paths;
relative ones are read from the graph file's folder, those of `--set` from the working
directory), what a node's `check()` finds in its files (a model's outputs against its
labels), steps of a shape the receiving port does not take (`Port.shape`), what a
receiver's `check_input()` refuses of what the sender declares (a gate: commands it would
always block), and edges of different stream types into one named port of a wildcard input.
"""
from __future__ import annotations

import difflib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pydantic

from . import paths, registry
from .node import WILDCARD, Node, Port
from .states import OnFailure
from .streams import ANY, compatible
from .yaml_lines import LineDict, LineList, YamlError, decode, load, parse_value, substitute_env

RUNTIME_KEYS = {"type", "group", "on_failure", "max_restarts", "python", "transport", "tcp_port", "host"}
# Keys the runtime keeps for itself without using them yet: no parameter may take them.
RESERVED_KEYS: set[str] = set()
# Keys of earlier releases, with what to write instead.
RENAMED_KEYS = {"restart": "on_failure: restart (or stop, detach)", "port": "tcp_port"}

POLICIES = ("lossless", "latest")
TRANSPORTS = ("ipc", "tcp")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
EDGE = re.compile(r"^\s*(\S+?)\s*->\s*(\S+)\s*$")


@dataclass
class Problem:
    file: str
    line: int
    node: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" node {self.node!r}:" if self.node else ""
        return f"{where}:{who} {self.message}"


class GraphError(ValueError):
    """One or more problems in a graph file; nothing was started."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class NodeSpec:
    name: str
    type: str
    params: dict[str, Any]
    cls: type[Node] | None = None
    inputs: dict[str, Port] = field(default_factory=dict)
    outputs: dict[str, Port] = field(default_factory=dict)
    group: str | None = None
    on_failure: OnFailure = OnFailure.STOP
    max_restarts: int = 3
    python: str | None = None
    transport: str = "ipc"
    tcp_port: int | None = None
    host: str | None = None     # a name from the graph's `hosts:` (None: a graph on one machine)
    line: int = 0
    # False when the ports could not be known (a problem said why): edges to it are not judged.
    ports_known: bool = True

    @property
    def unit(self) -> str:
        """The process this node runs in: its group, or itself."""
        return self.group or self.name


@dataclass
class EdgeSpec:
    src: str
    src_port: str
    dst: str
    dst_port: str
    policy: str = "lossless"
    line: int = 0
    # A `latest` edge may send at most this often (the console's views of array streams:
    # what comes sooner is dropped, and counted, before it costs an encoding or a copy).
    max_rate_hz: float | None = None

    @property
    def key(self) -> str:
        return f"{self.src}.{self.src_port}>{self.dst}.{self.dst_port}"


@dataclass
class Graph:
    name: str
    file: str
    nodes: dict[str, NodeSpec]
    edges: list[EdgeSpec]
    # The operator console's settings (`ui:`): host, port, view (streams shown); None: none.
    ui: dict[str, Any] | None = None
    # What the check changed on its own and says so (parameters dropped by a new type).
    notes: list[str] = field(default_factory=list)
    # Placement (`hosts:`, `keys:`): the machines, by name, and the folder of their keys.
    hosts: dict[str, Any] = field(default_factory=dict)
    keys: str | None = None

    def incoming(self, node: str) -> list[EdgeSpec]:
        return [e for e in self.edges if e.dst == node]

    def outgoing(self, node: str) -> list[EdgeSpec]:
        return [e for e in self.edges if e.src == node]

    def units(self) -> dict[str, list[str]]:
        """Process units (group or node name) -> node names, in file order."""
        out: dict[str, list[str]] = {}
        for spec in self.nodes.values():
            out.setdefault(spec.unit, []).append(spec.name)
        return out


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def apply_sets(raw: LineDict, sets: list[str], file: str, notes: list[str] | None = None) -> list[Problem]:
    """Apply `--set node.key[.sub]=value` overrides in place. A node given another type
    (`--set eeg.type=eeg.brainflow`) loses the parameters of the file that its new type
    lacks (not those set on the command line); `notes` gets which."""
    problems = []
    nodes = raw.get("nodes")
    retyped: dict[str, str] = {}  # node -> its type in the file
    for item in sets:
        path, eq, value = item.partition("=")
        parts = path.strip().split(".")
        if not eq or len(parts) < 2 or not all(parts):
            problems.append(Problem(file, 0, None, f"--set {item!r}: write --set node.param=value"))
            continue
        if not isinstance(nodes, dict) or parts[0] not in nodes:
            known = list(nodes) if isinstance(nodes, dict) else []
            problems.append(Problem(file, 0, parts[0], f"--set {item!r}: no such node"
                                    + _suggest(parts[0], known)))
            continue
        target = nodes[parts[0]]
        if not isinstance(target, dict):
            continue  # the node's own problem is reported with its line
        if parts[1:] == ["type"] and "type" in target:
            retyped.setdefault(parts[0], str(target["type"]))
        for key in parts[1:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = LineDict()
            target = target[key]
        target[parts[-1]] = parse_value(value)
    from_cli = {tuple(item.partition("=")[0].strip().split(".")[:2]) for item in sets}
    for name, old in retyped.items():
        body, new = nodes[name], str(nodes[name]["type"])
        try:
            fields = registry.get(new).Params.model_fields
        except Exception:  # noqa: BLE001 - an unknown type is reported with the node
            continue
        if new == old:
            continue
        dropped = [k for k in body if k not in fields and k not in RUNTIME_KEYS | RESERVED_KEYS
                   and k not in RENAMED_KEYS and (name, k) not in from_cli]
        for k in dropped:
            del body[k]
        if dropped and notes is not None:
            notes.append(f"--set {name}.type={new}: dropped the parameters of {old} that {new} lacks: "
                         f"{', '.join(map(str, dropped))}")
    return problems


def load_graph(path: str | Path, sets: list[str] | None = None,
               env: dict[str, str] | None = None) -> Graph:
    """Read, substitute, override and validate a graph file. Raises GraphError."""
    file = str(path)
    try:
        text = decode(Path(path).read_bytes())
    except OSError as exc:
        raise GraphError([Problem(file, 0, None, f"cannot read the graph file: {exc.strerror}")]) from None
    except YamlError as exc:
        raise GraphError([Problem(file, exc.line, None, str(exc))]) from None
    return parse_graph(text, file, sets or [], env)


def parse_graph(text: str, file: str = "<graph>", sets: list[str] | None = None,
                env: dict[str, str] | None = None) -> Graph:
    """Validate a graph's text; relative paths in it are read against the folder of `file`,
    those of `sets` against the working directory. Raises GraphError."""
    try:
        raw = load(substitute_env(text, env))
    except YamlError as exc:
        raise GraphError([Problem(file, exc.line, None, str(exc))]) from None
    if not isinstance(raw, LineDict):
        raise GraphError([Problem(file, 1, None, "a graph file is a mapping with `nodes:` and `edges:`")])
    notes: list[str] = []
    problems = apply_sets(raw, sets or [], file, notes)
    top = ["name", "nodes", "edges", "description", "ui", "hosts", "keys"]
    for key in raw:
        if key not in top:
            problems.append(Problem(file, raw.line_of(key), None, f"unknown top-level key {key!r}"
                                    + _suggest(str(key), top)))
    from_cli = {tuple(item.partition("=")[0].strip().split(".")[:2]) for item in sets or []}
    nodes = _nodes(raw, file, from_cli, problems)
    edges = _edges(raw, nodes, file, problems)
    _check_named_streams(nodes, edges, file, problems)
    _check_inputs(nodes, edges, file, problems)
    _check_cycles(nodes, edges, file, problems)
    _inherit_safe_commands(nodes, edges, file, problems)
    ui = _ui(raw, nodes, file, problems)
    from .hosts import check_placement  # placement has its own module; it reads Problem from here
    hosts, keys = check_placement(raw, nodes, file, problems)
    if problems:
        raise GraphError(sorted(problems, key=lambda p: p.line))
    return Graph(str(raw.get("name", Path(file).stem)), file, nodes, edges, ui, notes, hosts, keys)


UI_KEYS = {"host": str, "port": int, "view": list}


def _ui(raw: LineDict, nodes: dict[str, NodeSpec], file: str, problems: list[Problem]) -> dict | None:
    """`ui: {port: 8765, host: 127.0.0.1, view: [camera, snn.decision]}`: the console's
    settings (used with `streamer run --ui`, or `ui: true` for the defaults)."""
    if "ui" not in raw or raw["ui"] in (None, False):
        return None
    body = raw["ui"]
    line = raw.line_of("ui")
    if body is True:
        return {}
    if not isinstance(body, LineDict):
        problems.append(Problem(file, line, None, "`ui:` is true or a mapping with host, port and view"))
        return None
    for key, value in body.items():
        want = UI_KEYS.get(key)
        if want is None:
            problems.append(Problem(file, body.line_of(key), None, f"unknown key {key!r} under ui"
                                    + _suggest(str(key), UI_KEYS) + " (keys: host, port, view)"))
        elif not isinstance(value, want) or isinstance(value, bool):
            problems.append(Problem(file, body.line_of(key), None, f"ui {key} must be a {want.__name__}"))
    for v in body.get("view") or []:
        node, _, port = str(v).partition(".")
        spec = nodes.get(node)
        if spec is None or (port and spec.ports_known and port not in spec.outputs):
            problems.append(Problem(file, body.line_of("view"), node, f"ui view {v!r}: no such node or output"
                                    + _suggest(node, nodes)))
    return dict(body)


def _nodes(raw: LineDict, file: str, from_cli: set[tuple[str, ...]],
           problems: list[Problem]) -> dict[str, NodeSpec]:
    section = raw.get("nodes")
    if not isinstance(section, LineDict) or not section:
        problems.append(Problem(file, raw.line_of("nodes"), None, "`nodes:` must map node names to their settings"))
        return {}
    out: dict[str, NodeSpec] = {}
    groups_python: dict[str, str | None] = {}
    for name, body in section.items():
        line = section.line_of(name)
        name = str(name)
        if not NAME.match(name):
            problems.append(Problem(file, line, name, "node names use letters, digits, '_' and '-' "
                                    "and start with a letter"))
            continue
        if not isinstance(body, LineDict) or "type" not in body:
            problems.append(Problem(file, line, name, "needs a mapping with at least `type:`"))
            continue
        spec = NodeSpec(name, str(body["type"]), {}, line=line)
        try:
            spec.cls = registry.get(spec.type)
        except registry.UnknownNodeType as exc:
            problems.append(Problem(file, body.line_of("type"), name, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not hide the others
            problems.append(Problem(file, body.line_of("type"), name,
                                    f"node type {spec.type!r} failed to import: {exc}"))
        fields = spec.cls.Params.model_fields if spec.cls is not None else {}
        spec.params = {k: v for k, v in body.items() if k not in RUNTIME_KEYS | RESERVED_KEYS
                       and not (k in RENAMED_KEYS and k not in fields)}
        _runtime_keys(spec, body, file, problems)
        if spec.cls is not None:
            _params(spec, body, file, _resolve_paths(spec, file, from_cli), problems)
        if spec.group is not None:
            python = groups_python.setdefault(spec.group, spec.python)
            if python != spec.python:
                problems.append(Problem(file, line, name, f"group {spec.group!r} mixes interpreters; "
                                        "nodes of one group share one process"))
        out[name] = spec
    return out


def _runtime_keys(spec: NodeSpec, body: LineDict, file: str, problems: list[Problem]) -> None:
    def bad(key: str, msg: str) -> None:
        problems.append(Problem(file, body.line_of(key), spec.name, msg))

    fields = spec.cls.Params.model_fields if spec.cls is not None else {}
    for key, instead in RENAMED_KEYS.items():
        if key in body and key not in fields:
            bad(key, f"`{key}` is no longer a key of the runtime; write `{instead}`")
    if spec.cls is not None:
        clash = sorted((RUNTIME_KEYS | RESERVED_KEYS) & set(fields))
        if clash:
            bad("type", f"{spec.type} has parameters named like keys of the runtime ({', '.join(clash)}); "
                "the node type must rename them")
        spec.on_failure = OnFailure(spec.cls.default_on_failure)
    if "group" in body:
        spec.group = str(body["group"])
    if body.get("host") is not None:
        spec.host = str(body["host"])
    if "on_failure" in body:
        try:
            spec.on_failure = OnFailure(str(body["on_failure"]))
        except ValueError:
            bad("on_failure", f"on_failure must be one of {', '.join(p.value for p in OnFailure)}, "
                f"not {body['on_failure']!r}")
    max_restarts = body.get("max_restarts", 3)
    if not isinstance(max_restarts, int) or max_restarts < 0:
        bad("max_restarts", "max_restarts must be a whole number >= 0")
    else:
        spec.max_restarts = max_restarts
    if body.get("python") not in (None, ""):  # null: the runner's own interpreter
        python = shutil.which(str(body["python"])) or shutil.which(str(Path(file).parent / str(body["python"])))
        if python is None:
            hint = getattr(spec.cls, "python_hint", "")
            bad("python", f"interpreter {body['python']!r} not found (a path, relative to the working "
                "directory or to the graph file, or a command on PATH)" + (f"; {hint}" if hint else ""))
        else:
            spec.python = str(Path(python).absolute())
    transport = str(body.get("transport", "ipc"))
    if transport not in TRANSPORTS:
        bad("transport", f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
    spec.transport = transport
    if "tcp_port" in body:
        if not isinstance(body["tcp_port"], int) or not 0 < body["tcp_port"] < 65536:
            bad("tcp_port", "tcp_port must be a TCP port number")
        else:
            spec.tcp_port = body["tcp_port"]


def _params(spec: NodeSpec, body: LineDict, file: str, bases: dict[str, str],
            problems: list[Problem]) -> None:
    cls = spec.cls
    assert cls is not None
    spec.inputs, spec.outputs = dict(cls.inputs), dict(cls.outputs)  # until the parameters say more
    try:
        params = cls.Params(**spec.params)
    except pydantic.ValidationError as exc:
        fields = list(cls.Params.model_fields)
        for err in exc.errors():
            loc = [str(x) for x in err["loc"]]
            key = loc[0] if loc else ""
            where = ".".join(loc)
            if err["type"] == "extra_forbidden":
                msg = (f"unknown parameter {where!r} for {spec.type}" + _suggest(key, fields)
                       + f" (parameters: {', '.join(fields) or 'none'})")
            elif err["type"] == "missing":
                msg = f"parameter {where!r} is required for {spec.type}"
            elif not loc:  # a check across parameters: on the line of the first one it names
                msg = f"parameters of {spec.type}: {err['msg'].removeprefix('Value error, ')}"
                key = _first_named(msg, [k for k in body if k in spec.params])
            else:
                msg = f"parameter {where!r}: {err['msg']} (got {err.get('input')!r})"
            problems.append(Problem(file, body.line_of(key), spec.name, msg))
        return
    except Exception as exc:  # noqa: BLE001 - validators may raise anything
        problems.append(Problem(file, spec.line, spec.name, f"parameters rejected: {exc}"))
        return
    if not _input_paths_exist(spec, params, body, file, bases, problems):
        spec.ports_known = False  # ports and checks that read the files would fail for the same reason
        return
    try:
        spec.inputs, spec.outputs = cls.ports(params)
    except Exception as exc:  # noqa: BLE001 - e.g. a replay whose file is not a recording
        problems.append(Problem(file, spec.line, spec.name, f"cannot determine its ports: {exc}"))
        spec.ports_known = False
    try:
        found = cls.check(params)
    except Exception as exc:  # noqa: BLE001 - a plug-in's check must not hide the other problems
        found = [("", f"{spec.type} could not check its parameters: {exc}")]
    for key, msg in found:
        problems.append(Problem(file, body.line_of(key) if key else spec.line, spec.name, msg))


def _first_named(message: str, keys: list) -> Any:
    """The key that `message` names first ('' if none)."""
    found = [(m.start(), k) for k in keys if (m := re.search(rf"\b{re.escape(str(k))}\b", message))]
    return min(found, key=lambda x: x[0])[1] if found else ""


def _resolve_paths(spec: NodeSpec, file: str, from_cli: set[tuple[str, ...]]) -> dict[str, str]:
    """Relative paths of the graph file against its folder, those of `--set` against the
    working directory; returns which of the two each path parameter was read against."""
    assert spec.cls is not None
    folder = os.path.dirname(os.path.abspath(file))
    bases = {}
    for key in paths.path_fields(spec.cls.Params):
        if key in spec.params:
            cli = (spec.name, key) in from_cli
            bases[key] = "the working directory" if cli else "the graph file's folder"
            spec.params[key] = paths.resolve(spec.params[key], os.getcwd() if cli else folder)
    return bases


def _input_paths_exist(spec: NodeSpec, params: Any, body: LineDict, file: str, bases: dict[str, str],
                       problems: list[Problem]) -> bool:
    """Whether every input path exists (a glob pattern: matches a file); each one that does
    not is a problem on its own line."""
    assert spec.cls is not None
    ok = True
    for key, role in paths.path_fields(spec.cls.Params).items():
        if role != "input":
            continue
        value = getattr(params, key)
        written = body.get(key)
        lines = written.lines if isinstance(written, LineList) else []
        for i, path in paths.entries(value):
            if paths.exists(path):
                continue
            ok = False
            given = written[i] if i >= 0 and isinstance(written, list) and i < len(written) else written
            what = "no file matches" if paths.GLOB_CHARS.search(path) else "no file or folder at"
            read_as = f" (relative to {bases.get(key)}: {path})" if given != path else ""
            problems.append(Problem(file, lines[i] if 0 <= i < len(lines) else body.line_of(key), spec.name,
                                    f"parameter {key!r}: {what} {given!r}{read_as}; check the path"))
    return ok


def _edges(raw: LineDict, nodes: dict[str, NodeSpec], file: str,
           problems: list[Problem]) -> list[EdgeSpec]:
    section = raw.get("edges", LineList())
    if not isinstance(section, LineList):
        problems.append(Problem(file, raw.line_of("edges"), None, "`edges:` must be a list"))
        return []
    out: list[EdgeSpec] = []
    seen: dict[str, int] = {}
    for item, line in zip(section, section.lines):
        policy = "lossless"
        if isinstance(item, str):
            m = EDGE.match(item)
            if not m:
                problems.append(Problem(file, line, None, f"cannot read edge {item!r}; write "
                                        "`a -> b` or `a.port -> b.port`"))
                continue
            src, dst = m.group(1), m.group(2)
        elif isinstance(item, LineDict) and "from" in item and "to" in item:
            src, dst = str(item["from"]), str(item["to"])
            policy = str(item.get("policy", "lossless"))
            extra = set(item) - {"from", "to", "policy"}
            if extra:
                problems.append(Problem(file, line, None, f"unknown edge keys {sorted(extra)}; "
                                        "an edge has from, to and policy"))
            if policy not in POLICIES:
                problems.append(Problem(file, item.line_of("policy"), None,
                                        f"policy must be one of {', '.join(POLICIES)}, not {policy!r}"))
                continue
        else:
            problems.append(Problem(file, line, None, "an edge is `a -> b` or {from: a, to: b, policy: ...}"))
            continue
        edge = _edge(src, dst, policy, line, nodes, file, problems)
        if edge is None:
            continue
        if edge.key in seen:
            problems.append(Problem(file, line, edge.dst, f"duplicate edge {edge.src}.{edge.src_port} -> "
                                    f"{edge.dst}.{edge.dst_port} (first on line {seen[edge.key]})"))
            continue
        seen[edge.key] = line
        out.append(edge)
    return out


def _edge(src: str, dst: str, policy: str, line: int, nodes: dict[str, NodeSpec], file: str,
          problems: list[Problem]) -> EdgeSpec | None:
    src_node, _, src_port = src.partition(".")
    dst_node, _, dst_port = dst.partition(".")
    ok = True
    for name in (src_node, dst_node):
        if name not in nodes:
            problems.append(Problem(file, line, name, "edge names a node that does not exist"
                                    + _suggest(name, nodes)))
            ok = False
    if not ok:
        return None
    s, d = nodes[src_node], nodes[dst_node]
    if s.cls is None or d.cls is None:
        return None  # already reported
    if not s.ports_known or not d.ports_known:
        # judged once the ports are known; until then it still feeds its node and may close a cycle
        return EdgeSpec(src_node, src_port or "out", dst_node, dst_port or "in", policy, line)
    if not src_port:
        src_port = _default_port(s.outputs, "out")
        if src_port is None:
            problems.append(Problem(file, line, src_node, "has several outputs "
                                    f"({', '.join(s.outputs) or 'none'}); name one: {src_node}.PORT"))
            return None
    if not dst_port:
        dst_port = _default_port(d.inputs, "in")
        if dst_port is None:
            problems.append(Problem(file, line, dst_node, "has several inputs "
                                    f"({', '.join(d.inputs) or 'none'}); name one: {dst_node}.PORT"))
            return None
        if dst_port == WILDCARD:
            dst_port = "in"
    if src_port not in s.outputs:
        problems.append(Problem(file, line, src_node, f"{s.type} has no output {src_port!r}"
                                + _suggest(src_port, s.outputs) + f" (outputs: {', '.join(s.outputs) or 'none'})"))
        return None
    in_port = d.inputs.get(dst_port, d.inputs.get(WILDCARD))
    if in_port is None:
        problems.append(Problem(file, line, dst_node, f"{d.type} has no input {dst_port!r}"
                                + _suggest(dst_port, d.inputs) + f" (inputs: {', '.join(d.inputs) or 'none'})"))
        return None
    out_port = s.outputs[src_port]
    if not compatible(out_port.stream, in_port.stream):
        problems.append(Problem(file, line, dst_node,
                                f"stream types do not match: {src_node}.{src_port} sends "
                                f"{out_port.stream_names} but {dst_node}.{dst_port} takes {in_port.stream_names}"))
        return None
    edge = EdgeSpec(src_node, src_port, dst_node, dst_port, policy, line)
    if not in_port.takes_shape(out_port):
        problems.append(Problem(file, line, dst_node, f"shapes do not match: {src_node}.{src_port} sends "
                                f"{_shape(out_port.shape)} per step but {dst_node}.{dst_port} takes "
                                f"{_shape(in_port.shape)}; {_shape_fix(edge, out_port, in_port)}"))
        return None
    try:
        params = d.cls.Params(**d.params)
    except Exception:  # noqa: BLE001 - its parameters were reported already
        return edge
    try:
        found = d.cls.check_input(params, dst_port, out_port)
    except Exception as exc:  # noqa: BLE001 - a plug-in's check must not hide the other problems
        found = [f"{d.type} could not check this edge: {exc}"]
    for msg in found:
        problems.append(Problem(file, line, dst_node, f"edge {src_node}.{src_port} -> {dst_node}.{dst_port}: {msg}"))
    return edge


def _shape(shape: tuple[int, ...] | None) -> str:
    return "[" + ", ".join(map(str, shape or ())) + "]"


def _shape_fix(edge: EdgeSpec, out_port: Port, in_port: Port) -> str:
    """Which parameters to change, as far as the ports say."""
    where = [f"`{port.shape_from}` of {node}" for node, port in ((edge.src, out_port), (edge.dst, in_port))
             if port.shape_from]
    return f"change {' or '.join(where) or 'one side'} so that they agree"


def _default_port(ports: dict[str, Port], preferred: str) -> str | None:
    if preferred in ports:
        return preferred
    if len(ports) == 1:
        return next(iter(ports))
    return None


def _check_named_streams(nodes: dict[str, NodeSpec], edges: list[EdgeSpec], file: str,
                         problems: list[Problem]) -> None:
    """An input port taken by name through a wildcard (`rec.events`) is one named stream:
    edges of different stream types into it would make it unreadable."""
    first: dict[tuple[str, str], tuple[str, EdgeSpec]] = {}
    for e in edges:
        dst = nodes[e.dst]
        if e.dst_port in dst.inputs or WILDCARD not in dst.inputs or not nodes[e.src].ports_known:
            continue
        stream = nodes[e.src].outputs[e.src_port].stream
        if not isinstance(stream, str) or stream == ANY:
            continue  # decided only at run time
        seen = first.setdefault((e.dst, e.dst_port), (stream, e))
        if seen[0] != stream:
            other = seen[1]
            problems.append(Problem(file, e.line, e.dst, f"{e.dst}.{e.dst_port} takes {seen[0]} from "
                                    f"{other.src}.{other.src_port} (line {other.line}) and {stream} from "
                                    f"{e.src}.{e.src_port}; one port name holds one stream type: send "
                                    f"this edge to another port, e.g. {e.dst}.{e.src}_{e.src_port}"))


def _check_inputs(nodes: dict[str, NodeSpec], edges: list[EdgeSpec], file: str,
                  problems: list[Problem]) -> None:
    fed = {e.dst for e in edges} | {p.node for p in problems}  # a rejected edge was reported already
    for spec in nodes.values():
        if spec.cls is None:
            continue
        if spec.cls.role != "source" and spec.inputs and spec.name not in fed:
            problems.append(Problem(file, spec.line, spec.name, f"{spec.type} takes input "
                                    f"({', '.join(spec.inputs)}) but no edge feeds it"))


def _check_cycles(nodes: dict[str, NodeSpec], edges: list[EdgeSpec], file: str,
                  problems: list[Problem]) -> None:
    succ: dict[str, list[EdgeSpec]] = {n: [] for n in nodes}
    for e in edges:
        succ[e.src].append(e)
    state: dict[str, int] = {}

    def visit(n: str, path: list[EdgeSpec]) -> bool:
        state[n] = 1
        for e in succ[n]:
            if state.get(e.dst) == 1:
                cycle = path + [e]
                start = next(i for i, x in enumerate(cycle) if x.src == e.dst)
                loop = " -> ".join([x.src for x in cycle[start:]] + [e.dst])
                problems.append(Problem(file, e.line, e.dst, f"edges form a cycle ({loop}); "
                                        "graphs must be acyclic"))
                return True
            if state.get(e.dst) is None and visit(e.dst, path + [e]):
                return True
        state[n] = 2
        return False

    for n in nodes:
        if n not in state and visit(n, []):
            return


def _inherit_safe_commands(nodes: dict[str, NodeSpec], edges: list[EdgeSpec], file: str,
                           problems: list[Problem]) -> None:
    """Give each actuator without its own safe command the one of the gate that feeds it."""
    for spec in nodes.values():
        if spec.cls is None or not spec.cls.inherits_safe_command or "safe_action" in spec.params:
            continue
        found: dict[tuple, str] = {}
        for e in edges:
            src = nodes[e.src]
            if e.dst != spec.name or src.cls is None or e.src_port != src.cls.safe_port:
                continue
            try:
                safe = src.cls.safe_command(src.cls.Params(**src.params))
            except Exception:  # noqa: BLE001 - the gate's own parameters were reported already
                continue
            if safe is not None:
                found[(safe[0], repr(safe[1]))] = src.name
                spec.params["safe_action"], spec.params["safe_value"] = safe
        if len(found) > 1:
            problems.append(Problem(file, spec.line, spec.name, "is fed by gates with different safe "
                                    f"commands ({', '.join(sorted(found.values()))}); set its own "
                                    "safe_action and safe_value"))
