"""The one error type of the event-file readers: a ValueError naming the file and byte offset."""
from __future__ import annotations

from pathlib import Path


class EventFileError(ValueError):
    """An event file that cannot be read as what it claims to be."""

    def __init__(self, path: str | Path, offset: int, problem: str, hint: str = "") -> None:
        self.path = str(path)
        self.offset = int(offset)
        self.problem = problem
        msg = f"{self.path}: {problem} (at byte {self.offset})"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)
