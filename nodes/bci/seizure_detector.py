"""`bci.seizure`: line-length/band-power seizure detector calibrated on normal windows."""
from __future__ import annotations

import logging
import math

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer import streams
from streamer.node import Port, Rejected, Transform
from streamer.streams import DECISION, FRAMES, Message

from .seizure_features import BANDS, Detector, line_length, window_features

log = logging.getLogger(__name__)


class SeizureDetector(Transform):
    """A Decision 'seizure' or 'normal' per window of intracranial signal, with a score.

    Each window (Frames (1, channels, samples) from signal.epochs or signal.window) gives
    per channel the log line length and log band powers. The first `n_calibration`
    windows (those labelled one of `calibration_labels`, if given) calibrate it: the score
    of a window is the mean z-score of its features against them, and a window is a
    seizure when its score passes the `quantile` of the calibration scores. Decisions carry
    `score`, `threshold` and `truth` (the window's label); probabilities are a logistic of
    (score - threshold) over the spread of calibration scores. Windows labelled one of
    `seizure_labels` are counted as detected or missed, other labelled windows as
    false_alarms or true_normal.
    """

    inputs = {"in": Port(FRAMES, "windows (1, channels, samples) of ECoG/sEEG, labelled by signal.epochs")}
    outputs = {"out": Port(DECISION, "'seizure' (index 1) or 'normal' (0) per window after calibration")}

    class Params(streamer.node.Params):
        n_calibration: int = Field(60, ge=2, description="windows of normal signal that calibrate the detector")
        calibration_labels: list[str] | None = Field(
            None, description="calibrate only on windows with one of these labels (e.g. interictal); "
                              "default: the first windows, whatever their label")
        quantile: float = Field(0.99, gt=0, le=1, description="alarm above this quantile of calibration scores")
        seizure_labels: list[str] = Field(["ictal"], description="window labels that are seizures, for the counts")
        segment_s: float = Field(0.5, gt=0, description="Welch segment length of the band powers")
        bands: dict[str, tuple[float, float]] = Field(
            default_factory=lambda: dict(BANDS), description="bands of the features, name: (low_hz, high_hz)")

        @model_validator(mode="after")
        def _check(self) -> "SeizureDetector.Params":
            for name, (lo, hi) in self.bands.items():
                if not 0 <= lo < hi:
                    raise ValueError(f"band {name!r}: [{lo}, {hi}] Hz is not an interval")
            return self

    def start(self) -> None:
        self.calibration: list[np.ndarray] = []
        self.detector: Detector | None = None
        self.window = 0

    def warm_up(self) -> None:
        # Windows arrive as float32 (channels, samples): load that specialisation now.
        line_length(np.zeros((1, 2), np.float32))

    def _features(self, msg: Message) -> np.ndarray:
        """(channels, features) of a window; Rejected when it has none to give."""
        if msg.stream != FRAMES or msg.data.ndim != 3 or msg.data.shape[0] != 1 or msg.data.shape[2] < 2:
            raise Rejected(f"{self.name}: expects windows as Frames (1, channels, samples) from signal.epochs "
                           f"or signal.window, got {msg.stream} of shape {getattr(msg.data, 'shape', None)}")
        bin_us = msg.meta.get("bin_us")
        if not isinstance(bin_us, (int, float)) or isinstance(bin_us, bool) or not 0 < bin_us < float("inf"):
            raise Rejected(f"{self.name}: the window's bin_us (µs per sample) is {bin_us!r}; windows from "
                           "signal.epochs or signal.window carry it")
        fs = 1e6 / float(bin_us)
        nyquist = fs / 2
        high = max(hi for _, hi in self.params.bands.values())
        if high > nyquist:
            raise Rejected(f"{self.name}: band up to {high} Hz above the Nyquist frequency {nyquist:.1f} Hz")
        if self.detector is not None and msg.data.shape[1] != self.detector.mean.shape[0]:
            raise Rejected(f"{self.name}: window of {msg.data.shape[1]} channels, calibrated on "
                           f"{self.detector.mean.shape[0]}; one detector serves one stream")
        if self.calibration and msg.data.shape[1] != self.calibration[0].shape[0]:
            raise Rejected(f"{self.name}: window of {msg.data.shape[1]} channels, the calibration windows so far "
                           f"have {self.calibration[0].shape[0]}; one detector serves one stream")
        x = msg.data[0]
        if x.dtype != np.float32 and x.dtype != np.float64:  # the kernels' dtypes (native byte order)
            x = x.astype(np.float64)
        feats = window_features(x, fs, self.params.segment_s, self.params.bands, who=self.name)
        if not np.all(np.isfinite(feats)):
            bad = sorted({int(c) for c in np.nonzero(~np.isfinite(feats))[0]})
            raise Rejected(f"{self.name}: channels {bad} of the window are flat or hold NaN or infinite values "
                           "(a disconnected contact?); fix or drop them (signal.pick) before the detector")
        return feats

    def receive(self, port: str, msg: Message) -> Message | None:
        p = self.params
        feats = self._features(msg)
        label = msg.meta.get("label")
        if self.detector is None:
            if p.calibration_labels is None or label in p.calibration_labels:
                self.calibration.append(feats)
                self.count("calibration")
                if len(self.calibration) == p.n_calibration:
                    self.detector = Detector(np.stack(self.calibration), p.quantile)
                    self.calibration = []
                    for key in ("decisions", "detected", "missed", "false_alarms", "true_normal"):
                        self.count(key, 0)  # shown from now on, also while zero
                    log.info("%s: calibrated on %d windows, threshold %.3f", self.name, p.n_calibration,
                             self.detector.threshold)
            else:
                self.count("skipped")  # before calibration ends, windows of other labels are not judged
            return None
        det = self.detector
        score = float(det.scores(feats))
        seizure = score > det.threshold
        z = min(max((score - det.threshold) / det.spread, -50.0), 50.0)
        p1 = 1.0 / (1.0 + math.exp(-z))
        self.window += 1
        self.count("decisions")
        if label is not None:
            truth = label in p.seizure_labels
            self.count({(True, True): "detected", (True, False): "missed", (False, True): "false_alarms",
                        (False, False): "true_normal"}[(truth, seizure)])
        return streams.decision(int(seizure), "seizure" if seizure else "normal", [1.0 - p1, p1],
                                max(p1, 1.0 - p1), 1, model="seizure_line_length", policy="calibrated",
                                t_origin=msg.t_origin, score=score, threshold=det.threshold, truth=label,
                                window=self.window, first_sample=msg.meta.get("first_sample"))

    def finish(self) -> None:
        c = self.counters
        ictal, normal = c["detected"] + c["missed"], c["false_alarms"] + c["true_normal"]
        if self.detector is None:
            log.warning("%s: the stream ended during calibration (%d of %d windows)", self.name,
                        c["calibration"], self.params.n_calibration)
        elif ictal or normal:
            log.info("%s: sensitivity %d/%d, false alarms %d/%d", self.name, c["detected"], ictal,
                     c["false_alarms"], normal)
        return None
