"""Common spatial patterns (Koles; Ramoser et al. 2000): spatial filters whose output
variance differs most between two classes, and the log-variance features they give."""
from __future__ import annotations

import numpy as np
import scipy.linalg


def class_covariance(epochs: np.ndarray, shrinkage: float) -> np.ndarray:
    """Mean trace-normalised covariance of (trials, channels, samples), shrunk towards
    its mean variance (a few dozen trials do not pin down 64 x 64 entries)."""
    x = epochs - epochs.mean(axis=-1, keepdims=True)
    covs = np.einsum("tcs,tds->tcd", x, x)
    cov = (covs / np.trace(covs, axis1=1, axis2=2)[:, None, None]).mean(axis=0)
    return (1 - shrinkage) * cov + shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))


def csp_fit(epochs: np.ndarray, y: np.ndarray, n_pairs: int = 2, shrinkage: float = 0.05) -> np.ndarray:
    """(2 * n_pairs, channels) filters: those whose variance is largest for class 0
    relative to class 1, then those where it is largest for class 1."""
    c0 = class_covariance(epochs[y == 0], shrinkage)
    c1 = class_covariance(epochs[y == 1], shrinkage)
    # Generalised eigenproblem C0 w = l (C0 + C1) w; eigenvalues ascending in [0, 1].
    _, vecs = scipy.linalg.eigh(c0, c0 + c1)
    n = vecs.shape[1]
    pick = np.r_[np.arange(n - n_pairs, n)[::-1], np.arange(n_pairs)[::-1]]  # most class 0 ... most class 1
    return np.ascontiguousarray(vecs[:, pick].T)


def log_variance(filters: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """(trials, filters) log of each filter output's share of the total variance."""
    z = np.einsum("fc,tcs->tfs", filters, epochs)
    var = z.var(axis=-1)
    return np.log(var / var.sum(axis=1, keepdims=True))
