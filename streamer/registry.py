"""Find node types by name. Fed by the entry-point group `streamer.nodes`.

An entry point is either a catalog (a dict of type name -> "module:Class", imported only
when the type is used) or a single Node class registered under the entry point's name.
A graph may also name a class directly as "package.module:Class".
"""
from __future__ import annotations

import difflib
import importlib
from functools import lru_cache
from importlib.metadata import entry_points

from .node import Node

GROUP = "streamer.nodes"


class UnknownNodeType(KeyError):
    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown node type {name!r}{hint} (`streamer nodes` lists them)")
        self.name, self.suggestions = name, suggestions

    def __str__(self) -> str:
        return self.args[0]


@lru_cache(maxsize=1)
def catalog() -> dict[str, str | type]:
    """All known type names -> "module:Class" (or the class itself)."""
    found: dict[str, str | type] = {}
    for ep in entry_points(group=GROUP):
        obj = ep.load()
        if isinstance(obj, dict):
            found.update(obj)
        elif isinstance(obj, type) and issubclass(obj, Node):
            found[ep.name] = obj
        else:
            raise TypeError(f"entry point {ep.name!r} of group {GROUP} must be a dict or a Node "
                            f"class, got {type(obj).__name__}")
    return found


def names() -> list[str]:
    return sorted(catalog())


def _import(target: str) -> type[Node]:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise TypeError(f"{target} is not a Node class")
    return cls


def get(name: str) -> type[Node]:
    """The class of a node type; raises UnknownNodeType with suggestions."""
    # "module:Class" is imported directly: a worker process must not import every
    # catalogued package (numba among them) to start one node, least of all a restarted
    # actuator that the device waits for.
    if ":" in name:
        try:
            return _import(name)
        except (ImportError, AttributeError) as exc:
            raise UnknownNodeType(name, []) from exc
    target = catalog().get(name)
    if target is None:
        raise UnknownNodeType(name, difflib.get_close_matches(name, names(), n=2, cutoff=0.6))
    return target if isinstance(target, type) else _import(target)
