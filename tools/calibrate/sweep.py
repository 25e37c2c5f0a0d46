"""Dynamic Confidence replayed on recorded readout traces: one full run per sample, then
every (temperature, threshold) pair costs a few array operations.

A trace is the readout the policy sees after each step (accumulated output spikes, the
output layer's membrane, or the running mean of either), shape (samples, steps, classes).
`outcome` applies exactly the rule of nodes.snn.early_exit.Tracker: at step t (1-based) stop when t ≥ max_steps, or when
t ≥ min_steps and max softmax(z_t / T) > threshold; the class is argmax z at that step.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Row:
    temperature: float
    threshold: float
    accuracy: float      # fraction of samples right
    mean_steps: float
    speedup: float       # full window / mean steps
    readout: str = "spikes"
    flips: int = 0       # samples right at the full window and wrong here, or the other way round
    samples: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def confidence(traces: np.ndarray, temperature: float) -> np.ndarray:
    """max softmax(z / T) per (sample, step), in float64 as the live policy computes it."""
    z = traces.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return 1.0 / e.sum(axis=-1)  # the largest term is exp(0) = 1


def outcome(traces: np.ndarray, conf: np.ndarray, threshold: float, min_steps: int = 1,
            max_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Steps used and class chosen per sample for one threshold (conf from `confidence`)."""
    n, steps, _ = traces.shape
    max_steps = steps if max_steps is None else min(max_steps, steps)
    ok = conf[:, :max_steps] > threshold
    ok[:, :max(min_steps, 1) - 1] = False
    stop = np.where(ok.any(axis=1), ok.argmax(axis=1), max_steps - 1)
    return stop + 1, traces[np.arange(n), stop].argmax(axis=1)


def sweep(traces: np.ndarray, labels: np.ndarray, temperatures, thresholds, min_steps: int = 1,
          max_steps: int | None = None, readout: str = "spikes",
          reference: np.ndarray | None = None) -> list[Row]:
    """Accuracy and mean steps for every (temperature, threshold); `reference` is the
    full window's answer per sample (default: these traces' last step) for `Row.flips`."""
    labels = np.asarray(labels)
    full = max_steps or traces.shape[1]
    full_right = (traces[:, full - 1].argmax(axis=1) if reference is None else np.asarray(reference)) == labels
    rows = []
    for temperature in temperatures:
        conf = confidence(traces, float(temperature))
        for threshold in thresholds:
            steps, pred = outcome(traces, conf, float(threshold), min_steps, max_steps)
            mean = float(steps.mean())
            right = pred == labels
            rows.append(Row(float(temperature), float(threshold), float(np.mean(right)),
                            mean, full / mean, readout, int(np.sum(right != full_right)), len(labels)))
    return rows


def full_window_accuracy(traces: np.ndarray, labels: np.ndarray, max_steps: int | None = None) -> float:
    last = (max_steps or traces.shape[1]) - 1
    return float(np.mean(traces[:, last].argmax(axis=1) == np.asarray(labels)))


def choose(rows: list[Row], full_accuracy: float, budget: float, margin_se: float = 0.0) -> Row | None:
    """The fewest mean steps among rows within `budget` (a fraction) of the full window.

    With `margin_se` > 0 a row's accuracy lost counts `margin_se` standard errors more:
    the difference of two answers on the same samples varies with the samples on which
    they disagree (`flips`; McNemar's sqrt(flips) / n), and the cheapest of thousands of
    rows is otherwise the one whose calibration samples happened to flatter it most."""
    def lost(r: Row) -> float:
        return full_accuracy - r.accuracy + (margin_se * np.sqrt(r.flips) / r.samples if r.samples else 0.0)

    ok = [r for r in rows if lost(r) <= budget + 1e-12]
    return min(ok, key=lambda r: (r.mean_steps, -r.accuracy, -r.threshold)) if ok else None


def pareto(rows: list[Row]) -> list[Row]:
    """Rows no other row beats on both accuracy and mean steps, by increasing steps."""
    front, best = [], -1.0
    for r in sorted(rows, key=lambda r: (r.mean_steps, -r.accuracy)):
        if r.accuracy > best:
            front.append(r)
            best = r.accuracy
    return front
