"""The EEGMMIDB spiking decoder judged across runs (tools.train.cross_run): leave-one-run-out
on subject 1's four left/right fist runs with the recipe of the shipped model, per-class
recall and the binomial chance test; and the shipped model's figures are that recipe's."""
import nir
import pytest

pytest.importorskip("torch")

from tests.conftest import need  # noqa: E402
from tests.runtime_helpers import ROOT  # noqa: E402
from tools.bci.metrics import binomial_p  # noqa: E402
from tools.train import cross_run  # noqa: E402

RUNS = [3, 4, 7, 8]


@pytest.mark.integration  # trains the spiking decoder once per held-out run: minutes of CPU
def test_spiking_decoder_holds_on_runs_it_was_not_trained_on(shared_data):
    for r in RUNS:
        need(shared_data / "eeg" / f"S001R{r:02d}.edf")
    res = cross_run.leave_one_run_out(shared_data / "eeg", RUNS, cross_run.Recipe(), seed=0,
                                      log=lambda *a: None, early_stopping=False)
    f = res["pooled"]
    # 48/60 measured (CSP + LDA 50/60, Riemann 47/60); the bound leaves room for another CPU
    assert f["n"] == 60 and f["right"] >= 44, f
    assert f["p_value"] == pytest.approx(binomial_p(f["right"], 60)) and f["p_value"] < 1e-3
    assert min(f["recall"].values()) >= 0.6, f  # not a one-class answer
    assert sum(res[r]["right"] for r in RUNS) == f["right"]


def test_shipped_model_is_the_cross_run_recipe():
    """The shipped model was trained with the recipe judged above (its command's options)."""
    meta = nir.read(ROOT / "models" / "eegmmidb_left_right.nir").metadata
    command = str(meta["command"])
    r = cross_run.Recipe()
    for option in (f"--hidden {r.hidden}", "--no-bias", f"--epochs {r.epochs}", f"--weight-decay {r.weight_decay}",
                   f"--scale {r.scale}", f"--loss-temperature {r.temperature:g}", f"--batch {r.batch}"):
        assert option in command, (option, command)
    assert float(meta["held_out_accuracy"]) >= 20 / 30  # 22/30 on the imagined runs


def test_shipped_model_reads_a_louder_or_quieter_run_alike(shared_data):
    """No biases: each layer's drive scales with its input, so the imagined runs' spike
    counts halved or doubled (what a run recorded at half or twice the amplitude gives the
    delta encoder) are decided as they are."""
    import numpy as np

    import nodes.snn as snn
    from tools.train.eegmmidb import load_eegmmidb

    for r in RUNS:
        need(shared_data / "eeg" / f"S001R{r:02d}.edf")
    model = ROOT / "models" / "eegmmidb_left_right.nir"
    for name, node in nir.read(model).nodes.items():
        if hasattr(node, "bias"):
            assert not np.any(node.bias), name
    data = load_eegmmidb(shared_data / "eeg", [3, 7], [4, 8])
    net = snn.load(str(model), dt=0.025)
    decide = lambda k: [net.classify(np.round(x * k)).index for x in data.x_test]  # noqa: E731
    base = decide(1.0)
    assert 18 <= sum(np.array(base) == data.y_test) and 5 <= base.count(1) <= 25
    for k in (0.5, 2.0):
        assert sum(a == b for a, b in zip(decide(k), base)) >= 28, k


def test_grid_recipes_start_with_the_base_recipe():
    """The nested search's candidates: the base recipe first (it wins ties), then every
    combination of the grid, each once; a field the recipe does not have is refused."""
    base = cross_run.Recipe()
    recipes = cross_run.grid_recipes(base, ["delta=0.25,0.5", "pairs=2,3"])
    assert recipes[0] == base and len(recipes) == 4 == len(set(recipes))
    assert {(r.delta, r.pairs) for r in recipes} == {(0.25, 2), (0.5, 2), (0.25, 3), (0.5, 3)}
    assert recipes[1].changed() == {"delta": 0.25} and base.changed() == {}
    with pytest.raises(ValueError, match="field=v1,v2"):
        cross_run.grid_recipes(base, ["depth=3"])
