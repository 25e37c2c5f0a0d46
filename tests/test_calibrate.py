"""tools.calibrate: the replayed early-exit rule equals the live policy; table, plot, config."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import nodes.snn as snn
from nodes.snn.infer_node import Infer
from tests.conftest import need
from tools.calibrate import (Dataset, Row, choose, full_window_accuracy, pareto, parse_ids,
                             readout_traces, sweep)
from tools.calibrate.__main__ import main

STEPS = 300


@pytest.fixture(scope="module")
def nmnist(shared_data):
    root = need(shared_data / "nmnist")
    model = need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir")
    return model, root


@pytest.mark.parametrize("readout", ["spikes", "membrane", "spikes_mean", "membrane_mean"])
def test_replayed_policy_equals_live_dynamic_confidence(nmnist, readout):
    """Steps and class from the cached traces are what Network.infer does step by step."""
    model, root = nmnist
    net = snn.load(model, convention="sinabs")
    data = Dataset(root, STEPS)
    ids = list(range(1, 13))
    traces, labels = readout_traces(net, data, ids, readout)
    assert traces.shape == (12, STEPS, 10)
    temps = {"spikes": [3.0, 20.0], "membrane": [0.5, 2.0], "spikes_mean": [0.05, 0.2],
             "membrane_mean": [0.1, 0.5]}[readout]
    for temperature in temps:
        for threshold, min_steps, max_steps in [(0.9, 1, STEPS), (0.99, 25, 200), (0.6, 1, 40)]:
            from tools.calibrate.sweep import confidence, outcome
            steps, pred = outcome(traces, confidence(traces, temperature), threshold, min_steps,
                                  max_steps)
            policy = snn.DynamicConfidence(threshold, temperature, min_steps, max_steps, readout)
            for k, i in enumerate(ids):
                res = net.classify(data.frames(i), early_exit=policy)
                assert (res.steps, res.index) == (steps[k], pred[k]), (temperature, threshold, i)


def test_choose_within_budget_and_pareto_front():
    rows = [Row(1, 0.9, 0.95, 40.0, 7.5), Row(1, 0.99, 0.97, 80.0, 3.75),
            Row(5, 0.9, 0.96, 50.0, 6.0), Row(5, 0.99, 0.975, 120.0, 2.5),
            Row(9, 0.5, 0.90, 20.0, 15.0), Row(9, 0.6, 0.95, 60.0, 5.0)]
    # full window 97.5%: within one point means >= 96.5%
    assert choose(rows, 0.975, 0.01) == rows[1]
    assert choose(rows, 0.975, 0.02) == rows[2]
    assert choose(rows, 0.99, 0.0) is None
    assert pareto(rows) == [rows[4], rows[0], rows[2], rows[1], rows[3]]


def test_choose_with_a_margin_of_standard_errors():
    """A row that disagrees with the full window on many samples needs to be that much
    better: 0.5 points lost with 16 flips of 100 samples is 0.5 + 4 points with one
    standard error of margin; 9 flips make 3.5 points."""
    rows = [Row(1, 0.5, 0.895, 30.0, 10.0, flips=16, samples=100),
            Row(1, 0.9, 0.895, 45.0, 6.7, flips=9, samples=100),
            Row(1, 0.99, 0.90, 90.0, 3.3, flips=1, samples=100)]
    assert choose(rows, 0.90, 0.01) == rows[0]
    assert choose(rows, 0.90, 0.04, margin_se=1.0) == rows[1]
    assert choose(rows, 0.90, 0.01, margin_se=1.0) == rows[2]


def test_sweep_counts_flips_against_the_reference():
    traces = np.array([[[0, 0], [3, 0], [3, 1], [3, 6]],
                       [[0, 1], [0, 1], [2, 1], [2, 2]]], np.float32)
    labels = np.array([0, 1])
    # T=1, 0.9: sample 0 stops at step 2 on class 0 (right; the full window says 1, wrong);
    # sample 1 runs to the end on a tie, class 0 (wrong, as the full window)
    row = sweep(traces, labels, [1.0], [0.9])[0]
    assert (row.accuracy, row.flips, row.samples) == (0.5, 1, 2)
    # against a reference that answered both right, both are counted: one right, one not
    assert sweep(traces, labels, [1.0], [0.9], reference=labels)[0].flips == 1


def test_sweep_counts_on_hand_made_traces():
    # Two samples, 4 steps, 2 classes; accumulated counts.
    traces = np.array([[[0, 0], [3, 0], [3, 1], [6, 1]],
                       [[0, 1], [0, 1], [2, 1], [2, 2]]], np.float32)
    labels = np.array([0, 1])
    rows = sweep(traces, labels, [1.0], [0.9, 0.99])
    # T=1: sample 0 at step 2 has p = e^3/(e^3+1) = 0.953 > 0.9; sample 1 never > 0.9 (0.73 max).
    assert rows[0].mean_steps == (2 + 4) / 2 and rows[0].accuracy == 0.5
    # 0.99: sample 0 stops at step 4 (e^5/(e^5+1) = 0.9933); sample 1 runs 4 steps, tie -> class 0.
    assert rows[1].mean_steps == 4 and rows[1].accuracy == 0.5
    assert full_window_accuracy(traces, labels) == 0.5
    assert parse_ids("1-3,7, 9-10") == [1, 2, 3, 7, 9, 10]
    with pytest.raises(ValueError, match="use ranges like 1-500"):
        parse_ids("1..5")


def test_command_line_writes_table_plot_and_config(nmnist, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    model, root = nmnist
    out, png, cache = tmp_path / "dc.yaml", tmp_path / "dc.png", tmp_path / "cache"
    args = ["--model", str(model), "--data", str(root), "--ids", "1-30", "--score-ids", "31-40",
            "--convention", "sinabs", "--temperatures", "5,20", "--thresholds", "0.9,0.99",
            "--out", str(out), "--plot", str(png), "--cache", str(cache)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "readout temperature threshold accuracy mean steps speed-up" in text
    assert "<- chosen" in text and "held out: 10 samples" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = yaml.safe_load(out.read_text())
    params = Infer.Params(model=str(model), **{k: v for k, v in config.items() if k != "calibration"})
    assert params.early_exit.policy == "dynamic_confidence" and params.early_exit.max_steps == STEPS
    assert params.convention == "sinabs" and params.readout == config["calibration"]["chosen_readout"]
    assert config["calibration"]["readouts_searched"] == ["spikes", "membrane", "spikes_mean", "membrane_mean"]
    cal = config["calibration"]
    assert cal["accuracy"] >= cal["full_window_accuracy"] - 0.01 - 1e-9
    # one run per sample set and kind (spike counts, membrane), the means derived from them:
    # calibration 2, held out the spike counts and the chosen readout's kind
    assert len(list(cache.glob("traces-*.npz"))) == (3 if params.readout.startswith("spikes") else 4)
    # JSON too, and the cached traces make the second run agree with the first.
    assert main(args[:-6] + ["--out", str(tmp_path / "dc.json"), "--plot", "", "--cache", str(cache)]) == 0
    assert json.loads((tmp_path / "dc.json").read_text())["early_exit"] == config["early_exit"]


def test_command_line_reports_bad_data(tmp_path, capsys, nmnist):
    model, root = nmnist
    assert main(["--model", str(model), "--data", str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["--model", str(model), "--data", str(root), "--ids", "5000-5001"]) == 2
    assert "sample ids [5000, 5001] are not in" in capsys.readouterr().err


def test_running_mean_readouts_by_hand():
    """spikes_mean is the spike count over the steps so far; membrane_mean the membrane
    summed over those steps, over the same count; both classes by their argmax."""
    class Layer:
        v = np.zeros(2)

    layer = Layer()
    rule = snn.DynamicConfidence(threshold=None, temperature=1.0, max_steps=3, readout="membrane_mean")
    t = rule.tracker(2, layer)
    for v in ([1.0, 0.0], [0.0, 4.0], [0.5, -1.0]):
        layer.v[:] = v  # the engine updates its membranes in place
        t.update(np.zeros(2))
    assert np.allclose(t.readout(), [1.5 / 3, 3.0 / 3]) and t.result().index == 1
    t = snn.DynamicConfidence(threshold=0.6, temperature=0.5, readout="spikes_mean").tracker(2)
    assert not t.update(np.array([0.0, 0.0]))  # p = (0.5, 0.5)
    assert t.update(np.array([1.0, 0.0]))      # mean (0.5, 0): p = 1 / (1 + e^-1) = 0.73 > 0.6
    assert np.allclose(t.readout(), [0.5, 0.0]) and t.result().index == 0 and t.result().steps == 2
    with pytest.raises(ValueError, match="needs an output layer with a membrane"):
        snn.DynamicConfidence(readout="membrane_mean").tracker(2, None)
