"""Early exit that pays on two different N-MNIST networks: tools.calibrate searches readouts,
temperatures and thresholds on samples 601-800 and the chosen setting is scored on samples
801-1000, which neither the calibration nor the networks' training saw (the LIF network
was trained on samples 1-600). The choice counts each setting's accuracy lost one standard
error of the paired difference more (`--margin-se 1`): the cheapest of thousands of
settings is otherwise the one the 200 calibration samples flattered most (the previous LIF
network lost 3 points on 801-1000 after losing none on 601-800). Both networks decide in at
least 80% fewer steps without losing a point on samples 801-1000: the NIR paper's network
keeps its full-window accuracy, the LIF network (trained with the loss on its counts after
10, 20, ..., 300 steps) is more accurate after a few dozen steps than after 300: 73.0% in
36.7 steps against 71.5% in 300."""
from __future__ import annotations

import pytest
import yaml

from tests.conftest import need
from tests.runtime_helpers import ROOT
from tools.calibrate.__main__ import main

STEPS = 300


@pytest.mark.integration  # a calibration search over readouts and temperatures per network
@pytest.mark.parametrize("model, convention", [
    ("nir/02_cnn/cnn_sinabs.nir", "sinabs"),   # Conv/IF/SumPool, the NIR paper's (sinabs rules)
    ("models/nmnist_csnn_lif.nir", "nir"),     # Conv/Conv/Affine with leaky LIF, tools.train's
])
def test_calibrated_early_exit_decides_in_a_fifth_of_the_steps(shared_data, tmp_path, model, convention, capsys):
    root = need(shared_data / "nmnist")
    path = need(shared_data / model) if model.startswith("nir/") else ROOT / model
    out = tmp_path / "dc.yaml"
    assert main(["--model", str(path), "--data", str(root), "--ids", "601-800", "--score-ids", "801-1000",
                 "--convention", convention, "--dt-s", "0.001", "--margin-se", "1", "--steps", str(STEPS),
                 "--out", str(out), "--plot", "", "--cache", str(tmp_path / "cache")]) == 0
    cal = yaml.safe_load(out.read_text())["calibration"]
    print(capsys.readouterr().out.splitlines()[-3:])
    # the budget on calibration, with its margin of one standard error
    assert cal["accuracy"] - (cal["flips"] ** 0.5) / cal["samples"] >= cal["full_window_accuracy"] - 0.01 - 1e-9
    # on samples it never saw: at least 80% fewer steps and at most 1 point (2 samples of 200)
    # lost
    assert cal["held_out_accuracy"] >= cal["held_out_full_window_accuracy"] - 0.01 - 1e-9, cal
    assert cal["held_out_mean_steps"] <= 0.2 * STEPS, cal
    assert cal["held_out_full_window_accuracy"] >= 0.65, cal  # the networks work at all (99.0%, 71.5%)
