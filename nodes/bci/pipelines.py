"""The scikit-learn pipelines of MOABB's benchmark for motor imagery, built by name, so
that a graph's decoder and MOABB's evaluation run the very same estimators:

- csp_lda: covariances (OAS) -> CSP, 6 filters (pyriemann) -> LDA (MOABB's CSP.yml);
- ts_lr: covariances (OAS) -> tangent space at the Riemannian mean -> logistic
  regression, C = 1 (MOABB's TSLR.yml; Barachant et al. 2012).
"""
from __future__ import annotations

from typing import Any

PIPELINES = ("csp_lda", "ts_lr")


def make_pipeline(name: str) -> Any:
    """A fresh, unfitted sklearn Pipeline taking epochs (trials, channels, samples)."""
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from pyriemann.tangentspace import TangentSpace
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline as sk_pipeline

    if name == "csp_lda":
        return sk_pipeline(Covariances(estimator="oas"), CSP(nfilter=6), LinearDiscriminantAnalysis(solver="svd"))
    if name == "ts_lr":
        return sk_pipeline(Covariances(estimator="oas"), TangentSpace(metric="riemann"), LogisticRegression(C=1.0))
    raise ValueError(f"unknown pipeline {name!r}; choose one of {', '.join(PIPELINES)}")
