"""Figures of a decoder judged on recordings it was not calibrated on: ROC AUC,
sensitivity and specificity, false alarms per hour and detection latency for seizure
detection. The classifier figures (recall, chance, kappa, ITR...) are in
streamer.evaluation.metrics."""
from __future__ import annotations

import numpy as np
import scipy.stats

# The classifier figures live with `streamer eval`; kept importable from here.
from streamer.evaluation.metrics import binomial_p, chance_level, per_class_recall  # noqa: F401


def roc_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a positive outscores a negative,
    ties counting half (the Mann-Whitney U over the product of the class sizes)."""
    scores, truth = np.asarray(scores, float), np.asarray(truth, bool)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUC needs both classes; got {n_pos} positives and {n_neg} negatives")
    ranks = scipy.stats.rankdata(scores)  # average ranks: ties count half
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def sensitivity_specificity(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Share of positives flagged and share of negatives left alone (NaN for an absent class)."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    sens = float(predicted[truth].mean()) if truth.any() else float("nan")
    spec = float((~predicted[~truth]).mean()) if (~truth).any() else float("nan")
    return sens, spec


def false_alarms_per_hour(n_alarms: int, negative_seconds: float) -> float:
    """Alarms raised during seizure-free signal, per hour of that signal."""
    if negative_seconds <= 0:
        raise ValueError(f"no seizure-free signal to count false alarms over ({negative_seconds} s)")
    return n_alarms * 3600.0 / negative_seconds


def seizure_onsets(latency_s: np.ndarray) -> np.ndarray:
    """Seizure index of each ictal clip in recording order: a new seizure starts where the
    time since onset does not grow (the clips of one seizure are consecutive)."""
    latency_s = np.asarray(latency_s, float)
    return np.cumsum(np.r_[True, np.diff(latency_s) <= 0]) - 1


def detection_latencies(flagged: np.ndarray, latency_s: np.ndarray) -> np.ndarray:
    """Per seizure, the time since onset of its first flagged clip (NaN: never flagged)."""
    flagged, latency_s = np.asarray(flagged, bool), np.asarray(latency_s, float)
    seizure = seizure_onsets(latency_s)
    out = np.full(seizure.max() + 1 if len(seizure) else 0, np.nan)
    for k in range(len(out)):
        hit = flagged & (seizure == k)
        if hit.any():
            out[k] = latency_s[hit].min()
    return out
