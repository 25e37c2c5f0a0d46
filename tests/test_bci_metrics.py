"""tools.bci.metrics against scikit-learn and SciPy, and on cases worked by hand."""
import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import roc_auc_score

from tools.bci.metrics import (binomial_p, chance_level, detection_latencies, false_alarms_per_hour,
                               per_class_recall, roc_auc, seizure_onsets, sensitivity_specificity)


def test_auc_equals_scikit_learn_with_ties_and_names_a_missing_class():
    rng = np.random.default_rng(0)
    truth = rng.random(200) < 0.3
    scores = np.round(rng.normal(size=200) + truth, 1)  # rounded: many ties
    assert roc_auc(scores, truth) == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0 and roc_auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5
    with pytest.raises(ValueError, match="AUC needs both classes; got 0 positives and 3 negatives"):
        roc_auc([1, 2, 3], [0, 0, 0])


def test_sensitivity_specificity_and_false_alarm_rate():
    sens, spec = sensitivity_specificity([1, 1, 0, 0, 1, 0], [1, 1, 1, 0, 0, 0])
    assert sens == pytest.approx(2 / 3) and spec == pytest.approx(2 / 3)
    assert np.isnan(sensitivity_specificity([0, 1], [0, 0])[0])
    assert false_alarms_per_hour(2, 1800.0) == 4.0
    with pytest.raises(ValueError, match="no seizure-free signal"):
        false_alarms_per_hour(1, 0)


def test_seizures_split_where_the_time_since_onset_restarts_and_latency_is_the_first_hit():
    latency = np.array([0, 1, 2, 3, 0, 1, 2, 0, 1], float)
    assert seizure_onsets(latency).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2]
    flagged = np.array([0, 0, 1, 1, 1, 1, 1, 0, 0], bool)
    lat = detection_latencies(flagged, latency)
    assert lat[:2].tolist() == [2.0, 0.0] and np.isnan(lat[2])


def test_per_class_recall_exposes_a_one_class_answer_and_binomial_p_matches_scipy():
    truth = np.array([0, 0, 0, 1, 1, 1, 1])
    assert per_class_recall(np.zeros(7, int), truth, [0, 1]) == {0: 1.0, 1: 0.0}
    assert chance_level(truth) == pytest.approx(4 / 7)
    for k, n in ((22, 30), (10, 15), (50, 60), (0, 5)):
        want = scipy.stats.binomtest(k, n, 0.5, alternative="greater").pvalue
        assert binomial_p(k, n) == pytest.approx(want, rel=1e-9)
    assert binomial_p(22, 30) == pytest.approx(0.0081, abs=1e-4)  # the 22/30 quoted for later runs
    with pytest.raises(ValueError, match="31 right out of 30"):
        binomial_p(31, 30)
