"""`bci.seizure`: line-length/band-power seizure detector against a running baseline of the
patient's own signal, with alarms spaced by a refractory period."""
from __future__ import annotations

import logging
import math

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer import streams
from streamer.node import Port, Rejected, Transform
from streamer.streams import DECISION, FRAMES, Message

from .seizure_features import BANDS, SeizureRule, window_features

log = logging.getLogger(__name__)


class SeizureDetector(Transform):
    """A Decision 'seizure' or 'normal' per window of intracranial signal, and an alarm
    at the onset of each seizure.

    Each window (Frames (1, channels, samples) from signal.epochs or signal.window) gives
    per channel the log line length and log band powers. The score of a window is how far
    they stand above a running baseline of the same patient's recent windows judged normal
    (the mean over channels and features of log10(feature / its median over the last
    `baseline_windows`)), so that amplitude drift between recordings divides out. The
    first `baseline_windows` windows (those labelled one of `calibration_labels`, if
    given) fill the baseline; after them every window is judged: a seizure when its score
    passes `threshold` (chosen on earlier recordings of the patient with tools.bci.seizure;
    without one, the `quantile` of the first windows' scores). A seizure window sends an
    alarm on the `alarm` port unless the last one was less than `refractory_s` ago.
    Decisions carry `score`, `threshold`, `alarm` and `truth` (the window's label);
    probabilities are a logistic of (score - threshold) / `spread`. Windows labelled one of
    `seizure_labels` are counted as detected or missed, other labelled windows as
    false_alarms or true_normal; `alarms` counts alarms.
    """

    inputs = {"in": Port(FRAMES, "windows (1, channels, samples) of ECoG/sEEG, labelled by signal.epochs")}
    outputs = {"out": Port(DECISION, "'seizure' (index 1) or 'normal' (0) per window after calibration"),
               "alarm": Port(DECISION, "the seizure windows that raise an alarm (one per refractory period)")}

    class Params(streamer.node.Params):
        baseline_windows: int = Field(30, ge=2, description="windows judged normal that make the running baseline "
                                                            "(the first ones fill it before any decision)")
        calibration_labels: list[str] | None = Field(
            None, description="fill the first baseline only with windows of these labels (e.g. interictal); "
                              "default: the first windows, whatever their label")
        threshold: float | None = Field(
            None, description="seizure above this score (mean log10 ratio of the features to their baseline); "
                              "default: the quantile of the first baseline's own scores")
        quantile: float = Field(1.0, gt=0, le=1, description="without a threshold: the quantile of the first "
                                                             "baseline windows' scores that sets it")
        spread: float = Field(0.05, gt=0, description="score scale of the probabilities' logistic")
        refractory_s: float = Field(30.0, ge=0, description="no new alarm for this long after one")
        max_seizure_s: float = Field(300.0, gt=0, description="seizure windows for longer than this mean the "
                                                              "signal's level changed: the baseline restarts")
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
        p = self.params
        self.rule = SeizureRule(p.baseline_windows, p.threshold, p.quantile, p.refractory_s, p.max_seizure_s)
        self.n_channels: int | None = None
        self.window = 0

    def warm_up(self) -> None:
        # Windows arrive as float32 (channels, samples): load the line-length and Welch
        # kernels' specialisations now (a cold first window held the graph up for seconds).
        p = self.params
        fs = 2.5 * max(hi for _, hi in p.bands.values())
        x = np.random.default_rng(0).normal(size=(2, max(4, round(2 * p.segment_s * fs)))).astype(np.float32)
        window_features(x, fs, p.segment_s, p.bands, who=self.name)

    def _features(self, msg: Message) -> tuple[np.ndarray, float]:
        """(channels, features) of a window and its start in seconds; Rejected when it has
        none to give."""
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
        if self.n_channels is not None and msg.data.shape[1] != self.n_channels:
            raise Rejected(f"{self.name}: window of {msg.data.shape[1]} channels, the baseline holds "
                           f"{self.n_channels}; one detector serves one stream")
        x = msg.data[0]
        if x.dtype != np.float32 and x.dtype != np.float64:  # the kernels' dtypes (native byte order)
            x = x.astype(np.float64)
        feats = window_features(x, fs, self.params.segment_s, self.params.bands, who=self.name)
        if not np.all(np.isfinite(feats)):
            bad = sorted({int(c) for c in np.nonzero(~np.isfinite(feats))[0]})
            raise Rejected(f"{self.name}: channels {bad} of the window are flat or hold NaN or infinite values "
                           "(a disconnected contact?); fix or drop them (signal.pick) before the detector")
        first = msg.meta.get("first_sample")
        # Alarms are spaced in signal time: the window's first sample, else windows so far.
        t_s = float(first) / fs if isinstance(first, (int, float)) and not isinstance(first, bool) \
            and np.isfinite(first) else self.window * x.shape[1] / fs
        return feats, t_s

    def receive(self, port: str, msg: Message) -> dict | None:
        p = self.params
        feats, t_s = self._features(msg)
        label = msg.meta.get("label")
        rule = self.rule
        if not rule.calibrated:
            if p.calibration_labels is None or label in p.calibration_labels:
                rule.calibrate(feats)
                self.n_channels = feats.shape[0]
                self.count("calibration")
                if rule.calibrated:
                    for key in ("decisions", "detected", "missed", "false_alarms", "true_normal", "alarms"):
                        self.count(key, 0)  # shown from now on, also while zero
                    log.info("%s: baseline of %d windows, threshold %.3f", self.name, p.baseline_windows,
                             rule.threshold)
            else:
                self.count("skipped")  # before the baseline is full, windows of other labels are not judged
            return None
        j = rule.judge(feats, t_s)
        z = min(max((j.score - rule.threshold) / p.spread, -50.0), 50.0)
        p1 = 1.0 / (1.0 + math.exp(-z))
        self.window += 1
        self.count("decisions")
        if label is not None:
            truth = label in p.seizure_labels
            self.count({(True, True): "detected", (True, False): "missed", (False, True): "false_alarms",
                        (False, False): "true_normal"}[(truth, j.seizure)])
        decision = streams.decision(int(j.seizure), "seizure" if j.seizure else "normal", [1.0 - p1, p1],
                                    max(p1, 1.0 - p1), 1, model="seizure_running_baseline", policy="calibrated",
                                    t_origin=msg.t_origin, score=j.score, threshold=rule.threshold,
                                    alarm=j.alarm, truth=label, window=self.window,
                                    first_sample=msg.meta.get("first_sample"))
        if not j.alarm:
            return {"out": decision}
        self.count("alarms")
        return {"out": decision, "alarm": decision}

    def finish(self) -> None:
        c = self.counters
        ictal, normal = c["detected"] + c["missed"], c["false_alarms"] + c["true_normal"]
        if not self.rule.calibrated:
            log.warning("%s: the stream ended while the baseline filled (%d of %d windows)", self.name,
                        c["calibration"], self.params.baseline_windows)
        elif ictal or normal:
            log.info("%s: sensitivity %d/%d, false alarms %d/%d windows, %d alarms", self.name, c["detected"],
                     ictal, c["false_alarms"], normal, c["alarms"])
        return None
