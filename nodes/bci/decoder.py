"""`bci.decoder`: a two-class decoder fitted earlier (a session's fit phase) decides each epoch."""
from __future__ import annotations

import logging

import numpy as np
from pydantic import Field

import streamer.node
from streamer import streams
from streamer.node import Port, Rejected, Transform, Unavailable
from streamer.paths import InputPath
from streamer.streams import DECISION, FRAMES, Message

from .csp_lda import epoch_of
from .decoder_file import DecoderFileError, load_decoder
from .epoch_decoders import p_class1

log = logging.getLogger(__name__)


class Decoder(Transform):
    """Loads a decoder saved by a session's fit phase (`tools.bci.fit_decoder`: CSP + LDA
    or tangent space + logistic regression) and decides every epoch from signal.epochs:
    its class, the probabilities, `truth` and `correct` when the epoch's label is a class.

    Nothing is calibrated on the stream: the epochs must have the channels (same names,
    same order) and sampling rate the decoder was fitted on, else they are refused,
    naming both. Band-pass, reference and epoch window are the fit's too (the file's
    `preprocessing`): give the graph's filter and epochs the same values. Counters:
    decisions, right, wrong."""

    inputs = {"in": Port(FRAMES, "epochs (1, channels, samples) with their marker's label (signal.epochs)")}
    outputs = {"out": Port(DECISION, "one decision per epoch")}

    class Params(streamer.node.Params):
        model: InputPath = Field(description="decoder file (JSON) written by the fit phase")

    @classmethod
    def check(cls, params: "Decoder.Params") -> list[tuple[str, str]]:
        try:
            model = load_decoder(params.model)
        except DecoderFileError as exc:
            return [("model", str(exc))]
        if model["kind"] == "snn":
            return [("model", f"{params.model} is a spiking decoder: run it with signal.project, signal.encode "
                              "and snn.infer on its NIR file, not bci.decoder")]
        return []

    def start(self) -> None:
        try:
            self.model = load_decoder(self.params.model)
        except DecoderFileError as exc:
            raise Unavailable(str(exc)) from None
        m = self.model
        if m["kind"] == "ts_lr":
            try:
                import pyriemann  # noqa: F401 - said now rather than at the first epoch
            except ImportError:
                raise Unavailable(f"{self.params.model}: a tangent-space decoder needs pyriemann and scikit-learn "
                                  "(pip install pyriemann scikit-learn)") from None
        self.channels = [c.strip(". ") for c in m["channels"]]
        cv = m.get("training", {}).get("cross_validation", {})
        self.details["backend"] = f"{m['kind']} ({len(self.channels)} channels, {m['sfreq']:g} Hz)"
        self.details["decoder"] = {"path": m["path"], "kind": m["kind"], "cv_accuracy": cv.get("accuracy"),
                                   "sha256": m.get("training", {}).get("sha256")}
        self.epoch = 0

    def _check(self, msg: Message) -> np.ndarray:
        x, _ = epoch_of(msg, self.name)
        names = msg.meta.get("ch_names")
        if names is not None and [str(c).strip(". ") for c in names] != self.channels:
            raise Rejected(f"{self.name}: the epochs' channels {list(names)[:6]}... differ from the "
                           f"{len(self.channels)} the decoder {self.params.model} was fitted on "
                           f"{self.channels[:6]}...: pick the same channels, in the same order")
        if x.shape[0] != len(self.channels):
            raise Rejected(f"{self.name}: epoch of {x.shape[0]} channels; the decoder was fitted on "
                           f"{len(self.channels)}")
        bin_us = msg.meta.get("bin_us")
        if bin_us and abs(1e6 / bin_us - self.model["sfreq"]) > 1e-6 * self.model["sfreq"]:
            raise Rejected(f"{self.name}: epochs at {1e6 / bin_us:g} Hz; the decoder was fitted at "
                           f"{self.model['sfreq']:g} Hz: resample the stream (signal.resample) or fit again")
        if not np.all(np.isfinite(x)) or not x.var(axis=-1).sum() > 0:
            raise Rejected(f"{self.name}: epoch with NaN, infinite or flat channels only; fix the source")
        return x

    def receive(self, port: str, msg: Message) -> Message:
        x = self._check(msg)
        m = self.model
        p1 = float(p_class1(m["kind"], m["params"], x[None])[0])
        index = int(p1 > 0.5)
        label = msg.meta.get("label")
        truth = label if label in m["classes"] else None
        correct = None if truth is None else m["classes"].index(truth) == index
        self.epoch += 1
        self.count("decisions")
        if correct is not None:
            self.count("right" if correct else "wrong")
        return streams.decision(index, m["names"][index], [1.0 - p1, p1], max(p1, 1.0 - p1), 1, model=m["kind"],
                                policy="fitted", t_origin=msg.t_origin, truth=truth, correct=correct,
                                epoch=self.epoch, first_sample=msg.meta.get("first_sample"),
                                last_sample=_last(msg.meta.get("first_sample"), x.shape[1]))

    def finish(self) -> None:
        scored = self.counters["right"] + self.counters["wrong"]
        if scored:
            log.info("%s: %d of %d epochs right (accuracy %.3f)", self.name, self.counters["right"], scored,
                     self.counters["right"] / scored)
        return None


def _last(first: object, n: int) -> int | None:
    """The epoch's last sample: the earliest a decision on it can be shown."""
    return int(first) + n - 1 if isinstance(first, (int, np.integer)) else None
