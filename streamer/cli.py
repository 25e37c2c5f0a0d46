"""The `streamer` command: run, check and document graphs and node types."""
from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import formats, paths, registry, tool_commands
from .evaluation.command import add_parser as add_eval_parser
from .graph import GraphError, load_graph

EXIT_INVALID = 2


def _add_graph_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="graph file (YAML)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a node parameter (YAML-typed value; repeatable; dotted for nested keys)")


def _load(args: argparse.Namespace, console: Console) -> Any:
    try:
        graph = load_graph(args.graph, args.sets)
    except GraphError as exc:
        n = len(exc.problems)
        console.print(f"[red]{args.graph}: {n} problem{'s' if n != 1 else ''}[/]", highlight=False)
        for p in exc.problems:  # plain lines, never wrapped, for editors and scripts to parse
            print(f"  {p}", file=sys.stderr)
        return None
    for note in graph.notes:
        console.print(f"[yellow]{escape(note)}[/]", highlight=False, soft_wrap=True)
    return graph


def cmd_check(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    graph = _load(args, console)
    if graph is None:
        return EXIT_INVALID
    units = graph.units()
    console.print(f"{args.graph}: graph {graph.name!r} is valid: {len(graph.nodes)} nodes, "
                  f"{len(graph.edges)} edges, {len(units)} processes", highlight=False, soft_wrap=True)
    for name, host in graph.hosts.items():
        nodes = [n for n, s in graph.nodes.items() if s.host == name]
        console.print(f"  host {name} ({host.address}): {', '.join(nodes) or 'no nodes'}",
                      highlight=False, soft_wrap=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import Runner  # keeps `streamer nodes` and `check` light

    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=200)
    graph = _load(args, console)
    if graph is None:
        return EXIT_INVALID
    live = False if args.no_live else None
    if (args.ui or graph.ui is not None) and not args.no_ui:
        from .console import UiOptions, attach, loopback
        settings = graph.ui or {}
        options = UiOptions(host=args.ui_host or settings.get("host", "127.0.0.1"),
                            port=args.ui_port if args.ui_port is not None else settings.get("port", 8765),
                            view=settings.get("view"))
        try:
            graph, options = attach(graph, options)
        except GraphError as exc:
            for p in exc.problems:
                print(f"  {p}", file=sys.stderr)
            return EXIT_INVALID
        console.print(f"console: {options.url}", highlight=False, soft_wrap=True)
        if not loopback(options.host):
            console.print(f"[yellow]the console listens on {options.host}, beyond this machine: open it with "
                          "the token in the address above[/]", highlight=False)
    kwargs = dict(duration_s=args.duration, stats_json=args.stats_json, live=live,
                  console=console, log_level=args.log_level)
    if graph.hosts:
        from .cluster import ClusterRunner
        try:
            return ClusterRunner(graph, here=args.host, **kwargs).run()
        except (ValueError, OSError) as exc:
            console.print(f"[red]{escape(str(exc))}[/]", highlight=False, soft_wrap=True)
            return EXIT_INVALID
    return Runner(graph, **kwargs).run()


def cmd_keys(args: argparse.Namespace) -> int:
    from . import security
    written = security.make_keys(args.folder, args.names, overwrite=args.overwrite)
    for path in written:
        print(path)
    kept = len(args.names) - len(written) // 2
    if kept:
        print(f"kept {kept} existing key pair(s) (--overwrite to replace them)", file=sys.stderr)
    print("copy each NAME.key (public) to every machine's folder; NAME.key_secret stays on its machine",
          file=sys.stderr)
    return 0


def cmd_nodes(args: argparse.Namespace) -> int:
    console = Console()
    if not args.type:
        table = Table(title="node types")
        for col in ("type", "role", "inputs", "outputs", "summary"):
            table.add_column(col)
        for name in registry.names():
            try:
                cls = registry.get(name)
            except Exception as exc:  # noqa: BLE001 - list it anyway, with the reason
                table.add_row(name, "?", "", "", f"[red]cannot import: {exc}[/]")
                continue
            doc = (cls.__doc__ or "").strip().splitlines()
            table.add_row(name, cls.role, escape(_ports(cls.inputs)), escape(_ports(cls.outputs)),
                          escape(doc[0]) if doc else "")
        console.print(table)
        return 0
    try:
        cls = registry.get(args.type)
    except registry.UnknownNodeType as exc:
        Console(stderr=True).print(f"[red]{exc}[/]")
        return EXIT_INVALID
    console.print(f"[bold]{args.type}[/] ({cls.role}, {cls.__module__}.{cls.__qualname__})")
    console.print(inspect.cleandoc(cls.__doc__ or ""), highlight=False, markup=False, soft_wrap=True)
    console.print(f"\ninputs:  {_ports(cls.inputs, True) or 'none'}\noutputs: {_ports(cls.outputs, True) or 'none'}",
                  markup=False, highlight=False)
    table = Table(title="parameters")
    for col in ("name", "type", "default", "description"):
        table.add_column(col)
    for pname, f in cls.Params.model_fields.items():
        default = "(required)" if f.is_required() else repr(f.get_default(call_default_factory=True))
        table.add_row(escape(pname), escape(_type_name(f.annotation, f.metadata)), escape(default), escape(f.description or ""))
    console.print(table)
    return 0


def _type_name(annotation: Any, metadata: list | tuple = ()) -> str:
    """A parameter's type as a reader wants it: `input path | None`, `list[str]`."""
    role = paths.role_of(None, metadata)
    if role:
        return f"{role} path"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0], annotation.__metadata__)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin in (list, dict, tuple):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _ports(ports: dict, docs: bool = False) -> str:
    if docs:
        return "; ".join(f"{n} ({p.stream_names}){': ' + p.doc if p.doc else ''}" for n, p in ports.items())
    return ", ".join(f"{n}:{p.stream_names}" for n, p in ports.items())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="streamer", description="Real-time streaming graphs for event "
                                "cameras, EEG/sEEG/ECoG and spiking neural networks.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a graph", description="Start one process per node (or group), "
                         "show live figures, stop cleanly on Ctrl-C. Exit status 0: clean run; 1: a node "
                         "failed; 2: the graph is invalid.")
    _add_graph_args(run)
    run.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    run.add_argument("--stats-json", metavar="FILE", help="write the final figures as JSON")
    run.add_argument("--no-live", action="store_true", help="no live table; print the figures at the end")
    run.add_argument("--log-level", default="INFO", help="log level of the nodes (default INFO)")
    run.add_argument("--ui", action="store_true", help="serve the operator console (a web page with the "
                     "graph, live views, emergency stop and markers) while the graph runs")
    run.add_argument("--ui-port", type=int, metavar="PORT", help="TCP port of the console (default 8765)")
    run.add_argument("--ui-host", metavar="ADDR", help="address of the console (default 127.0.0.1; "
                     "any other asks for a token in the page's address)")
    run.add_argument("--no-ui", action="store_true", help="no console even if the graph has `ui:`")
    run.add_argument("--host", metavar="NAME", help="this machine's name in the graph's `hosts:` (default: the "
                     "host whose address is this machine's); its nodes run here, the others through their agents")
    run.set_defaults(func=cmd_run)
    agent = sub.add_parser("agent", help="run the nodes of this host for a controller on another machine",
                           add_help=False)
    keys = sub.add_parser("keys", help="make CURVE key pairs for a graph's hosts",
                          description="Write FOLDER/NAME.key (public) and NAME.key_secret (mode 0600) for "
                          "each NAME: `controller` and every host of the graph.")
    keys.add_argument("folder")
    keys.add_argument("names", nargs="+", metavar="NAME")
    keys.add_argument("--overwrite", action="store_true", help="replace existing pairs")
    keys.set_defaults(func=cmd_keys)
    check = sub.add_parser("check", help="validate a graph without running it",
                           description="Validate a graph file. Exit status 2 lists every problem "
                           "with its file, line and node.")
    _add_graph_args(check)
    check.set_defaults(func=cmd_check)
    nodes = sub.add_parser("nodes", help="list node types, or document one",
                           description="Without TYPE: every node type with its ports. With TYPE: its "
                           "documentation, ports and parameters with defaults.")
    nodes.add_argument("type", nargs="?", help="a node type, e.g. events.denoise")
    nodes.set_defaults(func=cmd_nodes)
    formats.add_parser(sub)
    add_eval_parser(sub)
    tool_commands.add_parsers(sub)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("streamer")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in tool_commands.TOOLS:  # the tool parses its own arguments
        return tool_commands.run(argv[0], argv[1:])
    if argv[:1] == ["agent"]:  # so does the agent
        from . import agent
        return agent.main(argv[1:])
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
