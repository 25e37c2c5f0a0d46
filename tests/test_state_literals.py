"""The runtime names supervisor and node states only through streamer.states' enums: a
bare "running" compared with or stored as a state would drift from them unnoticed."""
from __future__ import annotations

import ast
from pathlib import Path

import streamer
from streamer.states import NodeState, UnitState

VALUES = {s.value for s in NodeState} | {s.value for s in UnitState}
PACKAGE = Path(streamer.__file__).parent


def _is_state(node: ast.AST) -> bool:
    """An expression that holds a state: `state`, `x.state`, `x["state"]`, `x.get("state")`."""
    if isinstance(node, ast.Name):
        return "state" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "state" in node.attr.lower()
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "state"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "state"
    return False


def _literals(node: ast.AST) -> list[str]:
    """State names written as bare strings in this expression (or its tuple/list/set)."""
    items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [n.value for n in items if isinstance(n, ast.Constant) and n.value in VALUES]


def bare_states(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_state(o) for o in operands):
                found += [(node.lineno, v) for o in operands for v in _literals(o)]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_is_state(t) for t in targets):
                found += [(node.lineno, v) for v in _literals(node.value)]
        elif isinstance(node, ast.keyword) and node.arg and "state" in node.arg.lower():
            found += [(node.value.lineno, v) for v in _literals(node.value)]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "state":
                    found += [(value.lineno, v) for v in _literals(value)]
    return sorted(found)


def test_the_check_finds_bare_states():
    source = ('if unit.state == "running": pass\nf.state = "failed"\nx = {"state": "stopped"}\n'
              'ok = stats.get("state") in ("done", "ready")\nFigure(state="restarting")\n'
              'kind = "ready"\nif msg["kind"] == "done": pass\n')
    assert bare_states(source) == [(1, "running"), (2, "failed"), (3, "stopped"), (4, "done"),
                                   (4, "ready"), (5, "restarting")]


def test_no_bare_state_strings_in_the_runtime():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {value!r}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for line, value in bare_states(path.read_text())]
    assert not found, "use NodeState / UnitState (streamer/states.py) instead of:\n" + "\n".join(found)
