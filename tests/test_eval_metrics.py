"""streamer.evaluation.metrics against scikit-learn's and the textbook values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from streamer.evaluation import metrics

sk = pytest.importorskip("sklearn.metrics", reason="scikit-learn is the reference")


@pytest.mark.parametrize("seed, k", [(0, 2), (1, 3), (2, 4)])
def test_scores_match_scikit_learn(seed, k):
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(k)]
    truth = list(rng.choice(classes, 80))
    predicted = [t if rng.random() < 0.6 else rng.choice(classes) for t in truth]
    f = metrics.figures(truth, predicted, classes, rng.uniform(1, 3, 80), n_permutations=500)
    assert f["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    assert f["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(truth, predicted))
    assert f["kappa"] == pytest.approx(sk.cohen_kappa_score(truth, predicted))
    assert f["mcc"] == pytest.approx(sk.matthews_corrcoef(truth, predicted))
    assert f["mcc_normalised"] == pytest.approx((sk.matthews_corrcoef(truth, predicted) + 1) / 2)
    assert f["confusion"] == sk.confusion_matrix(truth, predicted, labels=classes).tolist()
    assert f["chance"] == pytest.approx(1 / k)
    assert 0 < f["p_permutation"] < 0.01 and f["p_binomial"] < 0.01


def test_wolpaw_itr_from_each_trials_own_decision_time():
    assert metrics.wolpaw_bits(1.0, 2) == 1.0
    assert metrics.wolpaw_bits(0.5, 2) == 0.0 and metrics.wolpaw_bits(0.3, 2) == 0.0
    assert metrics.wolpaw_bits(1.0, 4) == 2.0
    # Wolpaw et al. 2002: N = 4, P = 0.9 gives 1.37 bits
    assert metrics.wolpaw_bits(0.9, 4) == pytest.approx(2 + 0.9 * math.log2(0.9) + 0.1 * math.log2(0.1 / 3))
    # early exit: decisions at 1 s and 3 s average 2 s, so 1 bit per trial is 30 bit/min
    assert metrics.itr_bits_per_min(1.0, 2, [1.0, 3.0]) == pytest.approx(30.0)


def test_a_decoder_that_guesses_is_not_significant():
    rng = np.random.default_rng(5)
    truth = list(rng.choice(["a", "b"], 200))
    guess = list(rng.choice(["a", "b"], 200))
    f = metrics.figures(truth, guess, ["a", "b"], np.ones(200), n_permutations=2000)
    assert f["p_permutation"] > 0.05 and f["p_binomial"] > 0.05
    assert abs(f["kappa"]) < 0.2
