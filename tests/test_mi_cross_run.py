"""Motor imagery decoders judged across runs (tools.bci.cross_run): leave-one-run-out on
EEGMMIDB subject 1's four left/right fist runs, CSP + LDA and Riemannian tangent space +
logistic regression, with per-class recall and the binomial chance test."""
import numpy as np
import pytest

from tests.conftest import need
from tools.bci import cross_run
from tools.bci.metrics import binomial_p

RUNS = [3, 4, 7, 8]


@pytest.fixture(scope="module")
def runs(shared_data):
    for r in RUNS:
        need(shared_data / "eeg" / f"S001R{r:02d}.edf")
    return cross_run.load_runs(RUNS)


def test_both_decoders_hold_on_runs_they_were_not_trained_on(runs):
    assert {r: len(y) for r, (_, y) in runs.items()} == {3: 15, 4: 15, 7: 15, 8: 15}
    res = cross_run.leave_one_run_out(runs, ["csp_lda", "riemann"])
    for name, least in (("csp_lda", 44), ("riemann", 40)):  # 50/60 and 47/60 measured
        f = res[name]["pooled"]
        assert f["n"] == 60 and f["right"] >= least, (name, f)
        assert f["p_value"] == pytest.approx(binomial_p(f["right"], 60)) and f["p_value"] < 1e-3
        assert min(f["recall"].values()) >= 0.6, (name, f)  # not a one-class answer
        assert sum(res[name][r]["right"] for r in RUNS) == f["right"]


def test_the_graph_split_and_a_shuffled_label_control(runs):
    # trained on the executed runs, tested on the imagined ones: eeg_left_right.yaml's split
    f = cross_run.train_test(runs, [3, 7], [4, 8], ["csp_lda"])["csp_lda"]
    assert f["n"] == 30 and f["right"] >= 22  # 24/30 measured, as bci.csp_lda in the graph
    # the same pipeline trained on shuffled labels decides at chance: the figures measure
    # what the decoder learned, not a leak between runs
    rng = np.random.default_rng(0)
    accs = []
    for _ in range(5):
        shuffled = {r: (x, rng.permutation(y)) for r, (x, y) in runs.items()}
        pred = cross_run.leave_one_run_out({r: (runs[r][0], shuffled[r][1]) for r in RUNS}, ["csp_lda"])
        accs.append(pred["csp_lda"]["pooled"]["accuracy"])
    assert np.mean(accs) < 0.65, accs
