"""A session protocol: phases that share subject, session and task.

    name: mi-session
    task: motorimagery
    root: ../../sessions            # recordings and decoder: ROOT/sub-S/ses-N/
    formats: [xdf, bids]            # each recording also as XDF and in ROOT/bids (mne-bids)
    phases:
      - {name: calibration, graph: mi_calibration.yaml, until: [cues], duration_s: 600}
      - {name: fit, fit: {recording: calibration, kind: csp_lda, classes: [left, right]}}
      - {name: online, graph: mi_online.yaml, until: [cues], repeat: 2}

A graph phase is a graph run by the runtime; its file reads the session through `${VAR}`:
SUBJECT, SESSION, TASK, RUN (two digits), PHASE, SESSION_DIR, RECORDING (this run's
recording), DECODER (the fit's file), BIDS_ROOT; `env` adds more. A fit phase trains a
decoder on the recording of an earlier phase (tools.bci.fit_decoder's options).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamer.yaml_lines import LineDict, YamlError, decode, load

FIT_KEYS = {"recording", "kind", "classes", "names", "tmin_s", "tmax_s", "filter", "reref", "samples", "folds",
            "seed"}
PHASE_KEYS = {"name", "graph", "fit", "until", "duration_s", "repeat", "env"}


class ProtocolError(ValueError):
    """A protocol that cannot run: names the file, line and what to change."""


@dataclass
class Phase:
    name: str
    line: int
    graph: Path | None = None
    fit: dict[str, Any] | None = None
    until: list[str] = field(default_factory=list)
    duration_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    run: int = 0          # recording runs are numbered across the session (BIDS run)


@dataclass
class Protocol:
    name: str
    task: str
    root: Path
    file: Path
    phases: list[Phase]
    formats: list[str] = field(default_factory=list)


def _fail(file: Path, line: int, what: str) -> ProtocolError:
    return ProtocolError(f"{file}:{line}: {what}")


def load_protocol(path: str | Path) -> Protocol:
    file = Path(path)
    try:
        raw = load(decode(file.read_bytes()))
    except OSError as exc:
        raise ProtocolError(f"{file}: cannot read the protocol ({exc.strerror})") from None
    except YamlError as exc:
        raise _fail(file, exc.line, str(exc)) from None
    if not isinstance(raw, LineDict) or not isinstance(raw.get("phases"), list) or not raw["phases"]:
        raise _fail(file, 1, "a protocol is a mapping with `phases:`, a list of phases")
    for key in raw:
        if key not in ("name", "task", "root", "phases", "formats", "description"):
            raise _fail(file, raw.line_of(key), f"unknown key {key!r} (name, task, root, formats, phases)")
    from streamer.formats import FORMATS
    fmts = raw.get("formats") or []
    bad = [f for f in fmts if f not in FORMATS] if isinstance(fmts, list) else [fmts]
    if bad:
        raise _fail(file, raw.line_of("formats"), f"formats: {bad[0]!r} is not one of {', '.join(FORMATS)}")
    task = str(raw.get("task", "bci"))
    if not task.isalnum():
        raise _fail(file, raw.line_of("task"), f"task {task!r}: BIDS labels are letters and digits only")
    base = file.resolve().parent
    phases: list[Phase] = []
    names: set[str] = set()
    run = 0
    for item in raw["phases"]:
        line = getattr(item, "line", 0) or raw.line_of("phases")
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _fail(file, line, "each phase is a mapping with a `name`")
        for key in item:
            if key not in PHASE_KEYS:
                line = item.line_of(key) if isinstance(item, LineDict) else line
                raise _fail(file, line, f"phase {item['name']!r}: unknown key {key!r} ({', '.join(sorted(PHASE_KEYS))})")
        if ("graph" in item) == ("fit" in item):
            raise _fail(file, line, f"phase {item['name']!r}: give either `graph` (a graph to run) or `fit`")
        repeat = item.get("repeat", 1)
        if not isinstance(repeat, int) or repeat < 1:
            raise _fail(file, line, f"phase {item['name']!r}: repeat must be a whole number >= 1, got {repeat!r}")
        env = {str(k): str(v) for k, v in (item.get("env") or {}).items()}
        for k in range(repeat):
            name = item["name"] if repeat == 1 else f"{item['name']}-{k + 1}"
            if name in names:
                raise _fail(file, line, f"phase name {name!r} is used twice; names must differ")
            names.add(name)
            ph = Phase(name, line, until=list(item.get("until") or []), duration_s=item.get("duration_s"), env=env)
            if "graph" in item:
                ph.graph = base / str(item["graph"])
                if not ph.graph.is_file():
                    raise _fail(file, line, f"phase {name!r}: graph {ph.graph} does not exist")
                run += 1
                ph.run = run
            else:
                fit = dict(item["fit"] or {})
                unknown = set(fit) - FIT_KEYS
                if unknown:
                    raise _fail(file, line, f"phase {name!r}: unknown fit option {sorted(unknown)[0]!r} "
                                            f"({', '.join(sorted(FIT_KEYS))})")
                if fit.get("recording") not in names:
                    raise _fail(file, line, f"phase {name!r}: fit.recording must name an earlier graph phase, "
                                            f"got {fit.get('recording')!r}")
                if not isinstance(fit.get("classes"), list) or len(fit["classes"]) != 2:
                    raise _fail(file, line, f"phase {name!r}: fit.classes must list the two cue labels")
                ph.fit = fit
            phases.append(ph)
    root = base / str(raw.get("root", "sessions"))
    return Protocol(str(raw.get("name", file.stem)), task, root, file, phases, list(fmts))
