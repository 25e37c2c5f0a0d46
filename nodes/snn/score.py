"""snn.score: decisions scored against the true labels, live and in a JSON summary."""
from __future__ import annotations

import collections
import json
import os
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

import streamer.node
from streamer.node import Port, Sink
from streamer.paths import OutputPath
from streamer.streams import DECISION, MARKER, Message, now


class Score(Sink):
    """Scores decisions against true labels: accuracy, steps per decision, decision latency.

    Each Marker on `labels` announces one sample and its true class (dvs.file over an
    N-MNIST folder, dvs.synthetic's trial onsets). Decisions on `decision` are paired with
    the markers in order, the first decision with the first marker: the pairing of
    snn.infer in trial mode, which gives each trial one decision as long as no marker
    comes before the previous trial has decided (its counter trials_cut stays 0). A
    decision is right when its label equals the marker's label (match: label) or its class
    index equals the marker's value (match: index). Markers whose label is not in
    `classes` (when given) are not samples and are ignored. `names` maps marker labels to
    the decision labels they stand for (EEG cues T1/T2 -> left/right). The first
    `skip` samples are paired with their decisions but not scored (counter skipped): the
    trials a decoder beside this one calibrates on, or those a model was trained on.

    Counters: samples, decisions, right, wrong; and, as live figures, accuracy_pct,
    mean_steps, latency_p50_ms and latency_max_ms (arrival of a decision here minus the
    t_origin of the input that completed it). At the end of the stream, undecided (samples
    left without a decision) and unlabelled (decisions left without a sample). With
    `summary_path`, the figures, the confusion counts and the samples got wrong are
    written there as JSON when the node stops.

    With decisions of another backend on `reference` (snn.infer beside a coprocessor node
    on the same frames), the n-th decision is compared with the n-th reference decision:
    counters agree and disagree, live agreement_pct, and the disagreements in the summary.
    """

    inputs = {"decision": Port(DECISION, "decisions to score"),
              "labels": Port(MARKER, "one marker per sample with its true class"),
              "reference": Port(DECISION, "decisions of another backend, compared in order")}

    class Params(streamer.node.Params):
        match: Literal["label", "index"] = Field(
            "label", description="right when decision label == marker label, or decision index == marker value")
        classes: list[str] | None = Field(
            None, description="marker labels that are classes; other markers are ignored (null: all)")
        names: dict[str, str] = Field(
            default_factory=dict, description="marker label -> decision label it stands for, e.g. {T1: left}")
        skip: int = Field(0, ge=0, description="first samples paired but not scored (calibration trials)")
        summary_path: OutputPath | None = Field(None, description="JSON file written with the final figures")

    def start(self) -> None:
        self.pending_labels: collections.deque[dict] = collections.deque()
        self.pending_decisions: collections.deque[tuple[dict, float]] = collections.deque()
        self.steps: list[int] = []
        self.latency_s: list[float] = []
        self.confusion: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.wrong: list[dict] = []
        self.pending_reference: collections.deque[dict] = collections.deque()
        self.pending_compared: collections.deque[dict] = collections.deque()
        self.disagreements: list[dict] = []
        self.started = True

    def receive(self, port: str, msg: Message) -> None:
        item = msg.data
        if port == "reference":
            self.pending_reference.append(item)
            self._compare()
            return
        if port == "labels":
            if self.params.classes is not None and item.get("label") not in self.params.classes:
                self.count("ignored_markers")
                return
            self.count("samples")
            self.pending_labels.append(item)
        else:
            self.count("decisions")
            self.pending_decisions.append((item, now() - msg.t_origin))
            # only what the comparison reads: kept until a reference decision arrives
            self.pending_compared.append({k: item.get(k) for k in ("index", "label", "steps")})
            self._compare()
        while self.pending_labels and self.pending_decisions:
            self._score(self.pending_labels.popleft(), *self.pending_decisions.popleft())

    def _score(self, truth: dict, decision: dict, latency_s: float) -> None:
        if self.counters["skipped"] < self.params.skip:
            self.count("skipped")
            return
        if self.params.match == "label":
            want = self.params.names.get(str(truth.get("label")), truth.get("label"))
            right = str(decision.get("label")) == str(want)
        else:
            right = truth.get("value") is not None and int(decision.get("index", -1)) == int(truth["value"])
        self.count("right" if right else "wrong")
        self.confusion[str(truth.get("label"))][str(decision.get("label"))] += 1
        if not right:
            self.wrong.append({"label": truth.get("label"), "decision": decision.get("label"),
                               "confidence": decision.get("confidence"), "steps": decision.get("steps"),
                               **({"sample": truth["sample"]} if "sample" in truth else {})})
        self.steps.append(int(decision.get("steps", 0)))
        if np.isfinite(latency_s):
            self.latency_s.append(latency_s)
        self._figures()

    def _compare(self) -> None:
        while self.pending_reference and self.pending_compared:
            ref, got = self.pending_reference.popleft(), self.pending_compared.popleft()
            same = int(got.get("index", -1)) == int(ref.get("index", -2))
            self.count("agree" if same else "disagree")
            if not same:
                self.disagreements.append({"n": self.counters["agree"] + self.counters["disagree"],
                                           "decision": got.get("label"), "reference": ref.get("label"),
                                           "steps": got.get("steps"), "reference_steps": ref.get("steps")})
            c = self.counters
            c["agreement_pct"] = round(100.0 * c["agree"] / (c["agree"] + c["disagree"]), 1)

    def _figures(self) -> None:
        """Live figures among the counters, rounded for the table."""
        c = self.counters
        scored = c["right"] + c["wrong"]
        c["accuracy_pct"] = round(100.0 * c["right"] / scored, 1)
        c["mean_steps"] = round(float(np.mean(self.steps)), 1)
        if self.latency_s:
            c["latency_p50_ms"] = round(1e3 * float(np.median(self.latency_s)), 2)
            c["latency_max_ms"] = round(1e3 * max(self.latency_s), 2)

    def finish(self) -> None:
        if self.pending_labels:
            self.count("undecided", len(self.pending_labels))
        if self.pending_decisions:
            self.count("unlabelled", len(self.pending_decisions))

    def summary(self) -> dict:
        """The final figures (accuracy None before any pair was scored)."""
        c = self.counters
        scored = c["right"] + c["wrong"]
        lat = np.asarray(self.latency_s) * 1e3
        return {
            "samples": c["samples"], "decisions": c["decisions"], "skipped": c["skipped"],
            "right": c["right"], "wrong": c["wrong"],
            "undecided": len(self.pending_labels), "unlabelled": len(self.pending_decisions),
            "accuracy": c["right"] / scored if scored else None,
            "mean_steps": float(np.mean(self.steps)) if self.steps else None,
            "max_steps": max(self.steps) if self.steps else None,
            "latency_ms": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                           "max": float(lat.max())} if len(lat) else None,
            "confusion": {k: dict(v) for k, v in sorted(self.confusion.items())},
            "wrong_samples": self.wrong,
            "agreement": {"compared": c["agree"] + c["disagree"], "agree": c["agree"],
                          "rate": c["agree"] / (c["agree"] + c["disagree"]),
                          "disagreements": self.disagreements} if c["agree"] + c["disagree"] else None,
        }

    def stop(self) -> None:
        path = self.params.summary_path
        if not path or not getattr(self, "started", False):
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.summary(), indent=2) + "\n")
        os.replace(tmp, path)  # a reader never sees half a file
