"""Two-class linear discriminant analysis with a shrunk covariance, in NumPy."""
from __future__ import annotations

import numpy as np


def lda_fit(x: np.ndarray, y: np.ndarray, shrinkage: float = 0.1) -> tuple[np.ndarray, float]:
    """Two-class LDA with the pooled covariance shrunk towards its mean variance: (w, b);
    class 1 when x @ w + b > 0, and x @ w + b is the log-odds of class 1 (equal priors)."""
    m0, m1 = x[y == 0].mean(0), x[y == 1].mean(0)
    centred = np.concatenate([x[y == 0] - m0, x[y == 1] - m1])
    cov = centred.T @ centred / max(1, len(x) - 2)
    cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
    w = np.linalg.solve(cov, m1 - m0)
    return w, float(-w @ (m0 + m1) / 2)
