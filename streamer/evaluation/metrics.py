"""The field's figures for a decoder's decisions on labelled trials: accuracy, balanced
accuracy, Cohen's kappa, normalised MCC, confusion matrix, Wolpaw's ITR from each trial's
own decision time, chance level with binomial and permutation p-values."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.stats


def confusion(truth: Sequence, predicted: Sequence, classes: Sequence) -> np.ndarray:
    """Counts [true class, predicted class] in the order of `classes`."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(classes), len(classes)), np.int64)
    for t, p in zip(truth, predicted):
        out[index[t], index[p]] += 1
    return out


def per_class_recall(predicted: np.ndarray, truth: np.ndarray, classes: list) -> dict:
    """Recall of each class: a decoder that answers one class whatever comes shows 1 and 0."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    return {c: float((predicted[truth == c] == c).mean()) if (truth == c).any() else float("nan")
            for c in classes}


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean recall over the classes present (sklearn's balanced_accuracy_score)."""
    rows = cm.sum(axis=1)
    present = rows > 0
    return float(np.mean(np.diag(cm)[present] / rows[present]))


def cohen_kappa(cm: np.ndarray) -> float:
    """Agreement beyond what the two marginals give by chance (1 perfect, 0 chance)."""
    n = cm.sum()
    po = np.trace(cm) / n
    pe = float((cm.sum(0) * cm.sum(1)).sum()) / n ** 2
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def mcc(cm: np.ndarray) -> float:
    """Matthews correlation coefficient, multi-class (Gorodkin's R_K, as sklearn), -1..1."""
    t, p = cm.sum(1).astype(float), cm.sum(0).astype(float)
    c, s = float(np.trace(cm)), float(cm.sum())
    den = math.sqrt((s * s - p @ p) * (s * s - t @ t))
    return (c * s - t @ p) / den if den else 0.0


def wolpaw_bits(accuracy: float, n_classes: int) -> float:
    """Bits per decision (Wolpaw et al. 2002); 0 at or below chance."""
    n, p = n_classes, accuracy
    if n < 2 or p <= 1.0 / n:
        return 0.0
    bits = math.log2(n) + p * math.log2(p)
    if p < 1:
        bits += (1 - p) * math.log2((1 - p) / (n - 1))
    return bits


def itr_bits_per_min(accuracy: float, n_classes: int, decision_times_s: Sequence[float]) -> float:
    """Wolpaw's ITR over the mean of each trial's own decision time (cue to decision,
    early exit included)."""
    times = np.asarray(decision_times_s, float)
    if not len(times) or not np.all(np.isfinite(times)) or times.mean() <= 0:
        return float("nan")
    return wolpaw_bits(accuracy, n_classes) * 60.0 / float(times.mean())


def chance_level(truth: np.ndarray) -> float:
    """Accuracy of always answering the most frequent class."""
    _, counts = np.unique(np.asarray(truth), return_counts=True)
    return float(counts.max() / counts.sum())


def binomial_p(n_right: int, n: int, chance: float = 0.5) -> float:
    """One-sided p-value of n_right or more right out of n by guessing at `chance`."""
    if not 0 <= n_right <= n:
        raise ValueError(f"{n_right} right out of {n} trials")
    return float(scipy.stats.binom.sf(n_right - 1, n, chance))


def permutation_p(truth: Sequence, predicted: Sequence, n_permutations: int = 10000, seed: int = 0) -> float:
    """One-sided p-value of the accuracy against the same decisions with the labels
    shuffled ((k + 1) / (n + 1), k shuffles doing as well or better)."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    observed = float((truth == predicted).mean())
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.broadcast_to(truth, (n_permutations, len(truth))), axis=1)
    k = int(((perms == predicted).mean(axis=1) >= observed - 1e-12).sum())
    return (k + 1) / (n_permutations + 1)


def figures(truth: Sequence, predicted: Sequence, classes: Sequence, decision_times_s: Sequence[float],
            n_permutations: int = 10000) -> dict:
    """Every figure of one set of decided trials, JSON-ready."""
    truth, predicted = list(truth), list(predicted)
    n = len(truth)
    if n == 0:
        raise ValueError("no decided trials to score")
    cm = confusion(truth, predicted, classes)
    right = int(np.trace(cm))
    acc = right / n
    k = len(classes)
    times = np.asarray(decision_times_s, float)
    return {
        "n": n, "right": right, "accuracy": acc, "balanced_accuracy": balanced_accuracy(cm),
        "kappa": cohen_kappa(cm), "mcc": mcc(cm), "mcc_normalised": (mcc(cm) + 1) / 2,
        "classes": list(classes), "confusion": cm.tolist(),
        "recall": per_class_recall(np.array(predicted, object), np.array(truth, object), list(classes)),
        "chance": 1.0 / k, "chance_majority": chance_level(np.array(truth, object)),
        "p_binomial": binomial_p(right, n, 1.0 / k),
        "p_permutation": permutation_p(truth, predicted, n_permutations),
        "itr_bits_per_trial": wolpaw_bits(acc, k),
        "itr_bits_per_min": itr_bits_per_min(acc, k, times),
        "decision_time_s": {"mean": float(times.mean()), "median": float(np.median(times)),
                            "p5": float(np.percentile(times, 5)), "p95": float(np.percentile(times, 95)),
                            "min": float(times.min()), "max": float(times.max())},
    }
