"""The two-class epoch decoders that a session fits and `bci.decoder` runs: CSP + LDA
(NumPy, the code of bci.csp_lda) and Riemannian tangent space + logistic regression
(pyriemann and scikit-learn, imported when used). Each is a fit (epochs, labels) ->
parameters that JSON holds, and `p_class1` (parameters, epochs) -> P(class 1)."""
from __future__ import annotations

import numpy as np

from .csp import csp_fit, log_variance
from .lda import lda_fit


def fit_csp_lda(x: np.ndarray, y: np.ndarray, n_pairs: int = 2, cov_shrinkage: float = 0.05,
                shrinkage: float = 0.1) -> dict:
    filters = csp_fit(x, y, n_pairs, cov_shrinkage)
    w, b = lda_fit(log_variance(filters, x), y, shrinkage)
    return {"filters": filters, "w": w, "b": b}


def fit_ts_lr(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> dict:
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from sklearn.linear_model import LogisticRegression

    covs = Covariances(estimator="oas").fit_transform(x)
    ts = TangentSpace(metric="riemann").fit(covs)
    lr = LogisticRegression(C=c, max_iter=1000).fit(ts.transform(covs), y)
    return {"reference": ts.reference_, "coef": lr.coef_[0], "intercept": float(lr.intercept_[0]), "c": c}


def p_class1(kind: str, params: dict, x: np.ndarray) -> np.ndarray:
    """Probability of class 1 for each epoch (trials, channels, samples)."""
    if kind == "csp_lda":
        score = log_variance(np.asarray(params["filters"]), x) @ np.asarray(params["w"]) + params["b"]
    elif kind == "ts_lr":
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace

        ts = TangentSpace(metric="riemann")
        ts.reference_ = np.asarray(params["reference"])
        score = ts.transform(Covariances(estimator="oas").fit_transform(x)) @ np.asarray(params["coef"]) \
            + params["intercept"]
    else:
        raise ValueError(f"no epoch decoder {kind!r}")
    return 1.0 / (1.0 + np.exp(-np.clip(score, -50, 50)))


FITS = {"csp_lda": fit_csp_lda, "ts_lr": fit_ts_lr}
