"""`bci.pipeline`: a decoder running one of MOABB's benchmark pipelines (scikit-learn,
pyriemann), calibrated on the first labelled epochs of the stream like bci.csp_lda."""
from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer import streams
from streamer.node import Rejected
from streamer.streams import Message

from .csp_lda import CspLda, check_classes, epoch_of
from .pipelines import make_pipeline

log = logging.getLogger(__name__)


class PipelineDecoder(CspLda):
    """MOABB's CSP + LDA or tangent space + logistic regression on epochs.

    The first `n_calibration` epochs labelled one of `classes` fit the pipeline; every
    later epoch gets a Decision with the pipeline's class probabilities, `truth` and
    `correct` (as bci.csp_lda). Counters: calibration, decisions, right, wrong, ignored."""

    class Params(streamer.node.Params):
        pipeline: Literal["csp_lda", "ts_lr"] = Field(
            "ts_lr", description="csp_lda: OAS covariances, CSP (6 filters), LDA; ts_lr: OAS covariances, "
                                 "Riemannian tangent space, logistic regression (MOABB's pipelines)")
        classes: list[str] = Field(description="the two epoch labels to tell apart, e.g. T1 and T2")
        names: list[str] | None = Field(None, description="decision label of each class (default: the classes)")
        n_calibration: int = Field(15, ge=4, description="labelled epochs that fit the pipeline")

        @model_validator(mode="after")
        def _check(self) -> "PipelineDecoder.Params":
            check_classes(self.classes, self.names)
            return self

    def start(self) -> None:
        super().start()
        self.model = None

    def _fit(self) -> None:
        p = self.params
        x, y = np.stack(self.train_x), np.array(self.train_y)
        self.train_x, self.train_y = [], []
        model = make_pipeline(p.pipeline)
        try:
            model.fit(x, y)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise Rejected(f"{self.name}: the calibration epochs do not fit {p.pipeline} ({exc}); "
                           "calibration starts again") from None
        self.model = self.filters = model  # `filters` set: calibrated, for the base class
        log.info("%s: %s fitted on %d epochs, training accuracy %.2f", self.name, p.pipeline, len(y),
                 float((model.predict(x) == y).mean()))
        for key in ("decisions", "right", "wrong"):
            self.count(key, 0)

    def receive(self, port: str, msg: Message) -> Message | None:
        x, label = epoch_of(msg, self.name)
        if self.model is None:
            self._calibrate(x, label)
            return None
        self._check_variance(x)
        proba = self.model.predict_proba(x[None])[0]
        index = int(np.argmax(proba))
        names = self.params.names or self.params.classes
        truth = label if label in self.params.classes else None
        correct = None if truth is None else self.params.classes.index(truth) == index
        self.epoch += 1
        self.count("decisions")
        if correct is not None:
            self.count("right" if correct else "wrong")
        return streams.decision(index, names[index], proba.tolist(), float(proba[index]), 1,
                                model=self.params.pipeline, policy="calibrated", t_origin=msg.t_origin,
                                truth=truth, correct=correct, epoch=self.epoch,
                                first_sample=msg.meta.get("first_sample"))
