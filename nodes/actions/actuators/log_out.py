"""Commands to the console (logging) and optionally to a JSON-lines file."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import Field

from streamer.node import Port
from streamer.paths import OutputPath
from streamer.streams import COMMAND, DECISION, MARKER
from streamer.util_nodes import LogLevel

from .base import Actuator, SafeParams, _plain

log = logging.getLogger("streamer.actions")


class LogActuator(Actuator):
    """Logs each command (or decision, marker) on the console and optionally appends it
    to a JSON-lines file, one object per line, flushed at each line so that a killed
    process leaves every line it logged."""

    inputs = {"in": Port((COMMAND, DECISION, MARKER), "items to log")}

    class Params(SafeParams):
        level: LogLevel = Field("INFO", description="logging level of the console lines")
        path: OutputPath | None = Field(None, description="JSON-lines file to append to (optional)")

    def start(self) -> None:
        self._level = logging.getLevelName(self.params.level.upper())
        self._file = None
        if self.params.path:
            path = Path(self.params.path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a", encoding="utf-8")
            except OSError as exc:
                raise RuntimeError(f"{self.name}: cannot open log file {path}: {exc}") from None

    def send(self, payload: dict) -> None:
        lat = payload["t_sent"] - payload["t_origin"] if payload["t_origin"] is not None else float("nan")
        log.log(self._level, "%s %s=%r [%s] %.1f ms", self.name, payload.get("action") or payload.get("label"),
                payload.get("value"), payload.get("safety", ""), 1e3 * lat)
        if self._file is not None:
            self._file.write(json.dumps(payload, default=_plain) + "\n")
            self._file.flush()

    def stop(self) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()
            self._file = None
