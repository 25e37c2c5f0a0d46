"""A decoding graph judged on recordings, pseudo-online, with MOABB's split conventions.

- `stream`: the graph as it is, the recordings one after another as one stream; a decoder
  that calibrates on the stream (bci.csp_lda's first `n_calibration` epochs) decides the
  trials after that; a fixed one (snn.infer with a trained model) every trial.
- `within-session`: per session, stratified 5-fold cross-validation over its trials
  (shuffled, `seed`: MOABB's WithinSessionEvaluation folds, trial order run by run).
- `cross-session`: each session held out in turn (sessions from `ses-X` in file names).
- `cross-run`: each recording (run) held out in turn.
With a split, each recording goes through the decoder's preprocessing nodes on its own
(fresh filters: one run, one recording); the decoder (one with `n_calibration`) is made
afresh per fold, calibrated on the training trials' epochs, then fed the test ones.

A trial is a cue marker of the source whose label is one of the classes; its decision
is the decoder's first one after the cue (in the order a live run makes them), its
decision time the stream time of that decision minus the cue's time.
"""
from __future__ import annotations

import glob
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..graph import Graph, load_graph
from ..node import emitted
from ..streams import FRAMES
from . import metrics
from .pseudo_online import PseudoOnline, Stamped, Trace, decoders_of, source_of, upstream

SPLITS = ("stream", "within-session", "cross-session", "cross-run")


@dataclass
class Trial:
    truth: str                 # cue label
    predicted: str | None      # cue label of the decision (None: undecided)
    time_s: float              # decision time from the cue
    part: int                  # recording index
    fold: int = 0


class EvalError(ValueError):
    pass


def natural_sorted(paths: list[str]) -> list[str]:
    return sorted(paths, key=lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)])


def expand(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        hits = natural_sorted(glob.glob(p)) if any(c in p for c in "*?[") else [p]
        if not hits:
            raise EvalError(f"{p}: no file matches")
        out += hits
    return out


def class_map(graph: Graph, decoder: str, given: dict[str, str] | None) -> dict[str, str]:
    """Cue label -> decision label, given or read from the decoder's parameters."""
    if given:
        return dict(given)
    p = graph.nodes[decoder].params
    if p.get("classes"):
        return dict(zip(p["classes"], p.get("names") or p["classes"]))
    if p.get("trial_markers") and p.get("labels"):
        return dict(zip(p["trial_markers"], p["labels"]))
    raise EvalError(f"{graph.file}: node {decoder!r}: cannot tell which cue goes with which decision; "
                    "give --classes CUE=LABEL,CUE=LABEL")


def _cue_time(c: Stamped) -> float:
    t = c.msg.data.get("time_s", math.nan)
    return float(t) if isinstance(t, (int, float)) and math.isfinite(t) else c.t_s


def stream_trials(trace: Trace, decoder: str, cmap: dict[str, str], part: int = 0) -> list[Trial]:
    """Each class cue with the decoder's first decision after it (before the next class cue)."""
    back = {v: k for k, v in cmap.items()}
    cues = [c for c in trace.cues if c.msg.data.get("label") in cmap]
    decisions = trace.decisions[decoder]
    trials, j = [], 0
    for i, cue in enumerate(cues):
        nxt = cues[i + 1].seq if i + 1 < len(cues) else math.inf
        while j < len(decisions) and decisions[j].seq < cue.seq:
            j += 1
        d = decisions[j] if j < len(decisions) and decisions[j].seq < nxt else None
        label = cue.msg.data["label"]
        if d is None:
            trials.append(Trial(label, None, math.nan, part))
        else:
            trials.append(Trial(label, back.get(d.msg.data["label"], d.msg.data["label"]), d.t_s - _cue_time(cue), part))
    return trials


@dataclass
class Epoch:
    stamped: Stamped
    label: str
    cue_s: float
    part: int


def epochs_of(trace: Trace, decoder: str, cmap: dict[str, str], part: int) -> list[Epoch]:
    """The labelled epochs that reached the decoder, each with its cue's time."""
    out = []
    cues = [c for c in trace.cues if c.msg.data.get("label") in cmap]
    for s in trace.inputs[decoder]:
        label = s.msg.meta.get("label") if s.msg.stream == FRAMES else None
        if label not in cmap:
            continue
        before = [c for c in cues if c.seq < s.seq and c.msg.data["label"] == label]
        out.append(Epoch(s, label, _cue_time(before[-1]) if before else math.nan, part))
    return out


def folds(split: str, epochs: list[Epoch], sessions: list[str], n_folds: int, seed: int) -> list[tuple[list, list]]:
    """(train, test) index lists of each fold."""
    idx = np.arange(len(epochs))
    part = np.array([e.part for e in epochs])
    if split == "cross-run":
        return [(idx[part != p].tolist(), idx[part == p].tolist()) for p in np.unique(part)]
    ses = np.array([sessions[e.part] for e in epochs])
    if split == "cross-session":
        if len(set(ses)) < 2:
            raise EvalError(f"cross-session needs recordings of two sessions or more (ses-X in their names); "
                            f"all are of session {ses[0]!r}")
        return [(idx[ses != s].tolist(), idx[ses == s].tolist()) for s in dict.fromkeys(ses)]
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import LabelEncoder

    out = []
    for s in dict.fromkeys(ses):
        mine = idx[ses == s]
        y = LabelEncoder().fit_transform([epochs[i].label for i in mine])
        cv = StratifiedKFold(n_folds, shuffle=True, random_state=np.random.RandomState(seed))
        out += [(mine[tr].tolist(), mine[te].tolist()) for tr, te in cv.split(np.zeros(len(y)), y)]
    return out


def fold_trials(graph: Graph, decoder: str, epochs: list[Epoch], train: list[int], test: list[int],
                cmap: dict[str, str], fold: int) -> list[Trial]:
    """A fresh decoder calibrated on the training epochs, deciding the test ones."""
    spec = graph.nodes[decoder]
    node = spec.cls(**{**spec.params, "n_calibration": len(train)})
    node.name = decoder
    back = {v: k for k, v in cmap.items()}
    node.start()
    try:
        for i in train:
            node.receive(epochs[i].stamped.port, epochs[i].stamped.msg)
        trials = []
        for i in test:
            e = epochs[i]
            out = [m for _, m in emitted(node, node.receive(e.stamped.port, e.stamped.msg))]
            if not out:
                raise EvalError(f"{decoder}: no decision on a test epoch after calibrating on {len(train)} epochs "
                                "(did calibration fail? see the log)")
            label = out[0].data["label"]
            trials.append(Trial(e.label, back.get(label, label), e.stamped.t_s - e.cue_s, e.part, fold))
    finally:
        node.stop()
    return trials


def session_of(path: str) -> str:
    m = re.search(r"ses-([A-Za-z0-9]+)", Path(path).name) or re.search(r"ses-([A-Za-z0-9]+)", path)
    return m.group(1) if m else "0"


def evaluate(graph_path: str, data: list[str] | None = None, split: str = "stream", *,
             decoders: list[str] | None = None, source: str | None = None, classes: dict[str, str] | None = None,
             skip_trials: int = 0, n_folds: int = 5, seed: int = 42, sets: list[str] | None = None,
             n_permutations: int = 10000, sessions: list[str] | None = None) -> dict[str, Any]:
    """Figures of each decoder of the graph (JSON-ready): per decoder the metrics over
    the decided trials, per fold accuracies, and every trial. `sessions`: the session of
    each recording (default: `ses-X` in its name, else one session)."""
    if split not in SPLITS:
        raise EvalError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    graph = load_graph(graph_path, sets or [])
    decoders = decoders or decoders_of(graph)
    missing = [d for d in decoders if d not in graph.nodes]
    if not decoders or missing:
        raise EvalError(f"{graph_path}: no decoder {missing or ''} (nodes with a Decision output: "
                        f"{', '.join(decoders_of(graph)) or 'none'})")
    keep = upstream(graph, decoders)
    src = source_of(graph, keep, source)
    if "path" not in graph.nodes[src].params:
        raise EvalError(f"{graph_path}: source {src!r} has no `path` to give the recordings to")
    files = expand(data) if data else expand([str(p) for p in _as_list(graph.nodes[src].params["path"])])
    files = [str(Path(f).resolve()) for f in files]
    unpaced = {"speed": 0} if "speed" in graph.nodes[src].cls.Params.model_fields else {}
    result: dict[str, Any] = {"graph": str(graph_path), "split": split, "data": files, "source": src,
                              "decoders": {}}
    if split == "stream":
        run = PseudoOnline(graph, keep, src, decoders, {src: {"path": files, **unpaced}})
        trace = run.run()
        for d in decoders:
            cmap = class_map(graph, d, classes)
            trials = stream_trials(trace, d, cmap)[skip_trials:]
            result["decoders"][d] = _figures(trials, list(cmap), n_permutations, run.rejected.get(d))
        return result
    calibrated = [d for d in decoders if "n_calibration" in graph.nodes[d].cls.Params.model_fields]
    fixed = [d for d in decoders if d not in calibrated]
    if not calibrated:
        raise EvalError(f"{graph_path}: {', '.join(fixed)} do not calibrate on trials (no n_calibration); "
                        "a split has nothing to train: use --split stream on the test recordings")
    prep = upstream(graph, calibrated) - set(calibrated)
    parts: dict[str, list[Epoch]] = {d: [] for d in calibrated}
    for i, f in enumerate(files):
        t = PseudoOnline(graph, prep, src, [], {src: {"path": [f], **unpaced}}, watch=calibrated).run()
        for d in calibrated:
            parts[d] += epochs_of(t, d, class_map(graph, d, classes), i)
    if sessions is not None and len(sessions) != len(files):
        raise EvalError(f"{len(sessions)} sessions given for {len(files)} recordings")
    sessions = sessions or [session_of(f) for f in files]
    result["sessions"] = sessions
    for d in calibrated:
        cmap = class_map(graph, d, classes)
        trials = []
        for k, (train, test) in enumerate(folds(split, parts[d], sessions, n_folds, seed)):
            trials += fold_trials(graph, d, parts[d], train, test, cmap, k)
        result["decoders"][d] = _figures(trials, list(cmap), n_permutations, None)
    if fixed:
        result["skipped"] = {d: "decides with a fixed model: judge it with --split stream" for d in fixed}
    return result


def _as_list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _figures(trials: list[Trial], classes: list[str], n_permutations: int, rejected: str | None) -> dict:
    decided = [t for t in trials if t.predicted is not None]
    if not decided:
        raise EvalError(f"no trial was decided ({len(trials)} cues of {', '.join(classes)}): is the decoder "
                        "still calibrating at the end, or are the classes wrong (--classes)?")
    out = metrics.figures([t.truth for t in decided], [t.predicted for t in decided], classes,
                          [t.time_s for t in decided], n_permutations)
    out["undecided"] = len(trials) - len(decided)
    by_fold: dict[int, list[Trial]] = {}
    for t in decided:
        by_fold.setdefault(t.fold, []).append(t)
    out["fold_accuracy"] = [float(np.mean([t.truth == t.predicted for t in ts])) for _, ts in sorted(by_fold.items())]
    out["trials"] = [{"truth": t.truth, "predicted": t.predicted, "time_s": t.time_s, "part": t.part, "fold": t.fold}
                     for t in trials]
    if rejected:
        out["last_rejection"] = rejected
    return out
