"""Runs a protocol's phases in order for one subject and session.

Each graph phase is a graph run by the runtime (`streamer.runner.Runner`), with its safety
on every exit path; a phase that fails, or a Ctrl-C, ends the session after that phase
(the phases after it do not start). A fit phase trains the decoder on an earlier phase's
recording. What happened is written to SESSION_DIR/session.json after every phase.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console

from .protocol import Phase, Protocol

log = logging.getLogger("streamer.session")


@dataclass
class Session:
    protocol: Protocol
    subject: str
    session: str
    decoder: Path | None = None          # a decoder from an earlier session (skips no phase by itself)
    start_from: str | None = None        # skip the phases before this one
    ui: dict | None = None               # {host, port} of the operator console
    wait: Callable[[Phase, int], bool] | None = None   # before each phase after the first: go on?
    results: list[dict] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.protocol.root / f"sub-{self.subject}" / f"ses-{self.session}"

    def stem(self, phase: Phase) -> str:
        return f"sub-{self.subject}_ses-{self.session}_task-{self.protocol.task}_acq-{phase.name}_run-{phase.run:02d}"

    def recording(self, phase: Phase) -> Path:
        return self.dir / f"{self.stem(phase)}.rec"

    def decoder_path(self) -> Path:
        return self.decoder or self.dir / f"sub-{self.subject}_ses-{self.session}_task-{self.protocol.task}_decoder.json"

    def env(self, phase: Phase) -> dict[str, str]:
        return {**os.environ, "SUBJECT": self.subject, "SESSION": self.session, "TASK": self.protocol.task,
                "RUN": f"{phase.run:02d}", "PHASE": phase.name, "SESSION_DIR": str(self.dir),
                "RECORDING": str(self.recording(phase)), "DECODER": str(self.decoder_path()),
                "BIDS_ROOT": str(self.protocol.root / "bids"), **phase.env}

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "session.json").write_text(json.dumps(
            {"protocol": str(self.protocol.file), "name": self.protocol.name, "subject": self.subject,
             "session": self.session, "task": self.protocol.task, "phases": self.results}, indent=1, default=str))

    def run(self, console: Console | None = None, live: bool | None = False) -> int:
        console = console or Console(stderr=True)
        phases = self.protocol.phases
        names = [p.name for p in phases]
        if self.start_from is not None and self.start_from not in names:
            console.print(f"[red]no phase {self.start_from!r} in {self.protocol.file} ({', '.join(names)})[/]")
            return 2
        first = names.index(self.start_from) if self.start_from else 0
        self.dir.mkdir(parents=True, exist_ok=True)
        for k, phase in enumerate(phases):
            if k < first:
                continue
            if k > first and self.wait is not None and not self.wait(phase, k):
                console.print(f"session stopped by the operator before phase {phase.name}")
                return 0
            console.print(f"[bold]phase {k + 1}/{len(phases)}: {phase.name}[/] (sub-{self.subject} "
                          f"ses-{self.session} task-{self.protocol.task})", highlight=False)
            t0 = time.monotonic()
            result = {"name": phase.name, "started": time.time()}
            try:
                code, extra = (self._fit(phase) if phase.fit is not None else self._graph(phase, k, console, live))
            except KeyboardInterrupt:
                code, extra = 130, {"reason": "interrupted"}
            result.update(extra, exit_code=code, duration_s=round(time.monotonic() - t0, 3))
            self.results.append(result)
            self._save()
            if code != 0:
                console.print(f"[red]phase {phase.name} ended with status {code}: the session stops here[/]")
                return code
        console.print(f"session done: {self.dir}")
        return 0

    def _graph(self, phase: Phase, k: int, console: Console, live: bool | None) -> tuple[int, dict]:
        from streamer.graph import GraphError, load_graph
        from streamer.runner import Runner

        env = self.env(phase)
        try:
            graph = load_graph(phase.graph, [], env)
        except GraphError as exc:
            for p in exc.problems:
                print(f"  {p}", file=sys.stderr)
            return 2, {"reason": "invalid graph"}
        missing = [n for n in phase.until if n not in graph.nodes]
        if missing:
            print(f"  {self.protocol.file}:{phase.line}: phase {phase.name}: `until` names {missing[0]!r}, "
                  f"not a node of {phase.graph}", file=sys.stderr)
            return 2, {"reason": "invalid protocol"}
        graph.name = f"{graph.name} [{self.protocol.name} sub-{self.subject} ses-{self.session}: " \
                     f"{phase.name}, phase {k + 1}/{len(self.protocol.phases)}]"
        if self.ui is not None:
            from streamer.console import UiOptions, attach
            graph, options = attach(graph, UiOptions(host=self.ui["host"], port=self.ui["port"]))
            console.print(f"console: {options.url}", highlight=False)
        stats = self.dir / f"{self.stem(phase)}_stats.json"
        runner = Runner(graph, duration_s=phase.duration_s, stats_json=str(stats), live=live, console=console,
                        until=phase.until)
        code = runner.run()
        if runner.signals:
            code = code or 130
        rec = self.recording(phase)
        return code, {"graph": str(phase.graph), "run": phase.run, "reason": runner.reason, "stats": str(stats),
                      "recording": str(rec) if rec.exists() else None, "formats": self._convert(phase, console)}

    def _convert(self, phase: Phase, console: Console) -> dict[str, str]:
        """The phase's recording in the protocol's standard formats, with the session's
        BIDS entities; a failed conversion is reported and leaves the native file."""
        from streamer.formats import ConversionError, convert

        rec, out = self.recording(phase), {}
        if not rec.exists():
            return out
        info = {"subject": self.subject, "session": self.session, "task": self.protocol.task, "run": phase.run,
                "acquisition": phase.name}
        for fmt in self.protocol.formats:
            try:
                where = convert(rec, fmt, info={**info, "root": str(self.protocol.root / "bids")}
                                if fmt == "bids" else info)
                out[fmt] = str(where)
            except (ConversionError, ValueError, OSError) as exc:
                out[fmt] = f"failed: {exc}"
                console.print(f"[red]{rec.name}: not converted to {fmt}: {exc}[/]", highlight=False)
        return out

    def _fit(self, phase: Phase) -> tuple[int, dict]:
        from tools.bci.fit_decoder import FitError, fit_decoder

        fit = dict(phase.fit)
        source = next(p for p in self.protocol.phases if p.name == fit.pop("recording"))
        rec = self.recording(source)
        out = self.decoder_path() if self.decoder is None else self.decoder
        try:
            model = fit_decoder(rec, out, metadata={"subject": self.subject, "session": self.session,
                                                    "task": self.protocol.task, "phase": source.name,
                                                    "protocol": str(self.protocol.file)}, **fit)
        except (FitError, FileNotFoundError) as exc:
            print(f"  {self.protocol.file}:{phase.line}: phase {phase.name}: {exc}", file=sys.stderr)
            return 1, {"reason": "fit failed"}
        cv = model["training"]["cross_validation"]
        print(f"{model['kind']} fitted on {sum(model['training']['trials'].values())} trials of {rec.name}: "
              f"cross-validated accuracy {cv['accuracy']:.3f} +- {cv['std']:.3f} ({cv['folds']} folds, "
              f"chance {cv['chance']:.3f}) -> {out}", file=sys.stderr)
        return 0, {"decoder": str(out), "cross_validation": cv, "recording": str(rec)}
