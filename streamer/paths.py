"""Parameters that name files, marked in a node's Params so that a graph reads them the
way its author meant and checks them before anything starts:

    class Params(Params):
        model: InputPath = Field(description="path of the NIR file")
        path: Union[InputPath, list[InputPath]] = Field(...)   # files or glob patterns
        summary_path: OutputPath | None = Field(None, ...)

A relative path written in a graph file is read against the graph file's folder (the
graph then runs from any working directory); one given on the command line (`--set`)
against the working directory, as the user typing it expects. Every input path must
exist, and every glob pattern must match at least one file.
"""
from __future__ import annotations

import glob
import os
import re
import typing
from typing import Annotated, Any

GLOB_CHARS = re.compile(r"[*?\[]")


class PathRole:
    """Marks a str parameter as a path the node reads ("input") or writes ("output")."""

    def __init__(self, role: str) -> None:
        self.role = role

    def __repr__(self) -> str:
        return f"{self.role} path"


INPUT, OUTPUT = PathRole("input"), PathRole("output")
InputPath = Annotated[str, INPUT]
OutputPath = Annotated[str, OUTPUT]


def role_of(annotation: Any, metadata: list | tuple = ()) -> str | None:
    """"input" or "output" when this annotation (with a field's metadata) is a path."""
    for m in metadata:
        if isinstance(m, PathRole):
            return m.role
    if typing.get_origin(annotation) is Annotated:
        return role_of(None, annotation.__metadata__) or role_of(typing.get_args(annotation)[0])
    for arg in typing.get_args(annotation):
        role = role_of(arg)
        if role:
            return role
    return None


def path_fields(params_cls: Any) -> dict[str, str]:
    """{parameter: "input" | "output"} for the parameters of a Params class that are paths
    (alone, optional, or in a list)."""
    out = {}
    for name, f in params_cls.model_fields.items():
        role = role_of(f.annotation, f.metadata)
        if role:
            out[name] = role
    return out


def resolve(value: Any, base: str) -> Any:
    """A path (or each path of a list) made absolute against the folder `base`; `~` is the
    home folder; anything else is returned as it is, for the Params to judge."""
    if isinstance(value, list):
        return [resolve(v, base) for v in value]
    if not isinstance(value, str) or not value:
        return value
    return os.path.abspath(os.path.join(base, os.path.expanduser(value)))


def exists(path: str) -> bool:
    """An existing file or folder, or a glob pattern that matches at least one file."""
    if os.path.exists(path):
        return True
    return bool(GLOB_CHARS.search(path)) and any(os.path.isfile(m) for m in glob.iglob(path))


def entries(value: Any) -> list[tuple[int, str]]:
    """(index in the list, or -1 for a single value, path) of each non-empty path."""
    if isinstance(value, str):
        return [(-1, value)] if value else []
    if isinstance(value, (list, tuple)):
        return [(i, v) for i, v in enumerate(value) if isinstance(v, str) and v]
    return []
