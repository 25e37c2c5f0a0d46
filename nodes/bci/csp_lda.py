"""`bci.csp_lda`: a two-class decoder calibrated on the first labelled epochs of the stream."""
from __future__ import annotations

import logging
import math

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer import streams
from streamer.node import Port, Rejected, Transform
from streamer.streams import DECISION, FRAMES, Message

from .csp import csp_fit, log_variance
from .lda import lda_fit

log = logging.getLogger(__name__)


def check_classes(classes: list[str], names: list[str] | None) -> None:
    """Two different labels, and a decision name for each when names are given."""
    if len(classes) != 2 or classes[0] == classes[1]:
        raise ValueError(f"classes must name two different labels, got {classes}")
    if names is not None and len(names) != 2:
        raise ValueError(f"names gives the decision label of each of the 2 classes, got {names}")


def epoch_of(msg: Message, node: str) -> tuple[np.ndarray, str | None]:
    """An epoch from signal.epochs as (channels, samples) float64, and its marker's label;
    Rejected, naming the node, for anything else."""
    if msg.stream != FRAMES or msg.data.ndim != 3 or msg.data.shape[0] != 1:
        raise Rejected(f"{node}: expects epochs as Frames (1, channels, samples) from signal.epochs, "
                       f"got {msg.stream} of shape {getattr(msg.data, 'shape', None)}")
    return msg.data[0].astype(np.float64), msg.meta.get("label")


class CspLda(Transform):
    """CSP + shrinkage LDA on epochs, calibrated on the stream itself.

    The first `n_calibration` epochs whose label (from signal.epochs) is one of `classes`
    train it: CSP filters (n_pairs from each end of the spectrum), log-variance of their
    outputs, an LDA on those. Every later epoch gets a Decision: its class, the LDA's
    posterior probabilities, `truth` (the epoch's label) and `correct` when the label is a
    class. Band-pass the signal first (8-30 Hz for mu/beta motor rhythms). Counters:
    calibration (epochs used to train), decisions, right, wrong, ignored (labels of no
    class during calibration); the accuracy is logged at the end.
    """

    inputs = {"in": Port(FRAMES, "epochs (1, channels, samples) with their marker's label (signal.epochs)")}
    outputs = {"out": Port(DECISION, "one decision per epoch after calibration")}

    class Params(streamer.node.Params):
        classes: list[str] = Field(description="the two epoch labels to tell apart, e.g. T1 and T2")
        names: list[str] | None = Field(None, description="decision label of each class (default: the classes)")
        n_calibration: int = Field(15, ge=4, description="labelled epochs that train the decoder")
        n_pairs: int = Field(2, ge=1, description="CSP filters taken from each end (2 x n_pairs features)")
        cov_shrinkage: float = Field(0.05, ge=0, le=1, description="shrinkage of the class covariances of CSP")
        shrinkage: float = Field(0.1, ge=0, le=1, description="shrinkage of the LDA covariance")

        @model_validator(mode="after")
        def _check(self) -> "CspLda.Params":
            check_classes(self.classes, self.names)
            return self

    def start(self) -> None:
        self.train_x: list[np.ndarray] = []
        self.train_y: list[int] = []
        self.filters: np.ndarray | None = None
        self.w = np.zeros(0)
        self.b = 0.0
        self.epoch = 0

    def _fit(self) -> None:
        """Train on the calibration epochs; Rejected (calibration starts again) when they
        cannot train it."""
        p = self.params
        x, y = np.stack(self.train_x), np.array(self.train_y)
        self.train_x, self.train_y = [], []
        if x.shape[1] < 2 * p.n_pairs:
            raise Rejected(f"{self.name}: {x.shape[1]} channels are too few for n_pairs {p.n_pairs}; "
                           "calibration starts again")
        try:
            filters = csp_fit(x, y, p.n_pairs, p.cov_shrinkage)
            feats = log_variance(filters, x)
            w, b = lda_fit(feats, y, p.shrinkage)
        except (ValueError, np.linalg.LinAlgError) as exc:  # eigh refuses a singular covariance
            raise Rejected(f"{self.name}: the calibration epochs do not train CSP + LDA ({exc}); "
                           "calibration starts again") from None
        if not np.all(np.isfinite(w)) or not np.isfinite(b):
            raise Rejected(f"{self.name}: the calibration epochs give a decoder that is not finite "
                           "(channels without variance?); calibration starts again")
        self.filters, self.w, self.b = filters, w, b
        fit_acc = float(((feats @ self.w + self.b > 0) == y).mean())
        log.info("%s: calibrated on %d epochs (%s %d, %s %d), training accuracy %.2f", self.name, len(y),
                 p.classes[0], int((y == 0).sum()), p.classes[1], int((y == 1).sum()), fit_acc)
        for key in ("decisions", "right", "wrong"):
            self.count(key, 0)  # shown from now on, also while zero

    def _check_variance(self, x: np.ndarray) -> None:
        """CSP compares variances: an epoch without any (flat) or with NaN/inf is refused."""
        with np.errstate(invalid="ignore", over="ignore"):
            var = x.var(axis=-1) if x.shape[1] else np.zeros(len(x))
        if not np.all(np.isfinite(var)) or not var.sum() > 0:
            raise Rejected(f"{self.name}: epoch with NaN, infinite or flat channels only (variance {var.tolist()}); "
                           "fix the source or band-pass the signal first")

    def _calibrate(self, x: np.ndarray, label: str | None) -> None:
        p = self.params
        if label not in p.classes:
            self.count("ignored")
            return
        self._check_variance(x)
        if self.train_x and x.shape != self.train_x[0].shape:
            raise Rejected(f"{self.name}: epoch of {x.shape[0]} channels x {x.shape[1]} samples, the calibration "
                           f"epochs so far have {self.train_x[0].shape[0]} x {self.train_x[0].shape[1]}; "
                           "epochs of one stream have one shape")
        self.train_x.append(x.astype(np.float64))
        self.train_y.append(p.classes.index(label))
        self.count("calibration")
        if len(self.train_y) >= p.n_calibration:
            if min(self.train_y.count(0), self.train_y.count(1)) < 2:
                if len(self.train_y) == p.n_calibration:
                    log.warning("%s: %d calibration epochs hold fewer than 2 of a class; calibrating on",
                                self.name, p.n_calibration)
                return
            self._fit()

    def receive(self, port: str, msg: Message) -> Message | None:
        x, label = epoch_of(msg, self.name)
        if self.filters is None:
            self._calibrate(x, label)
            return None
        if x.shape[0] != self.filters.shape[1]:
            raise Rejected(f"{self.name}: epoch has {x.shape[0]} channels, calibrated on {self.filters.shape[1]}")
        self._check_variance(x)
        score = float(log_variance(self.filters, x[None])[0] @ self.w + self.b)
        p1 = 1.0 / (1.0 + math.exp(-min(max(score, -50.0), 50.0)))
        index = int(score > 0)
        names = self.params.names or self.params.classes
        truth = label if label in self.params.classes else None
        correct = None if truth is None else self.params.classes.index(truth) == index
        self.epoch += 1
        self.count("decisions")
        if correct is not None:
            self.count("right" if correct else "wrong")
        return streams.decision(index, names[index], [1.0 - p1, p1], max(p1, 1.0 - p1), 1, model="csp_lda",
                                policy="calibrated", t_origin=msg.t_origin, score=score, truth=truth,
                                correct=correct, epoch=self.epoch, first_sample=msg.meta.get("first_sample"))

    def finish(self) -> None:
        scored = self.counters["right"] + self.counters["wrong"]
        if self.filters is None:
            log.warning("%s: the stream ended during calibration (%d of %d epochs)", self.name,
                        self.counters["calibration"], self.params.n_calibration)
        elif scored:
            log.info("%s: %d of %d epochs right (accuracy %.3f)", self.name, self.counters["right"], scored,
                     self.counters["right"] / scored)
        return None
