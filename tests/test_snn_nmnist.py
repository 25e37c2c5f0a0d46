"""The NIR paper's N-MNIST CNN (exported by sinabs) on real N-MNIST recordings."""
from __future__ import annotations

import numpy as np
import pytest

import nodes.snn as snn
from tests.conftest import need
from tools.calibrate import Dataset, choose, full_window_accuracy, readout_traces, sweep
from tools.calibrate import nmnist_frames

STEPS = 300


@pytest.fixture(scope="module")
def nmnist(shared_data):
    root = need(shared_data / "nmnist")
    model = need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir")
    labels = dict(np.loadtxt(need(root / "labels.txt"), dtype=np.int64))

    def sample(i: int):
        return nmnist_frames(root / f"{i}.bin"), int(labels[i])
    return model, sample


@pytest.mark.parametrize("convention", ["sinabs", "nir"])
def test_cnn_classifies_first_100_samples(nmnist, convention):
    model, sample = nmnist
    net = snn.load(model, dt=1e-3, convention=convention)
    assert net.in_shape == (2, 34, 34) and net.out_shape == (10,)
    correct = 0
    for i in range(1, 101):
        frames, label = sample(i)
        net.reset()
        counts = net.step(frames).sum(axis=0)
        correct += int(np.argmax(counts) == label)
    # data/README.md: 96-99% under either rule set.
    assert correct >= 95, f"{correct}/100 correct with the {convention} convention"


# Hundreds of N-MNIST samples through the engine: the full lane's.
@pytest.mark.integration
def test_dynamic_confidence_saves_steps_at_equal_accuracy(nmnist, shared_data, tmp_path):
    """tools.calibrate picks (T, θ) on samples 101-300; scored live on unseen 301-400."""
    model, sample = nmnist
    net = snn.load(model, convention="sinabs")
    data = Dataset(shared_data / "nmnist", STEPS)
    traces, labels = readout_traces(net, data, list(range(101, 301)))
    rows = sweep(traces, labels, [5.0, 10.0, 15.0, 20.0, 30.0], [0.8, 0.9, 0.95, 0.99, 0.995])
    chosen = choose(rows, full_window_accuracy(traces, labels), budget=0.01)
    assert chosen is not None, "no temperature/threshold keeps the calibration accuracy"
    policy = snn.DynamicConfidence(threshold=chosen.threshold, temperature=chosen.temperature,
                                   min_steps=1, max_steps=STEPS)
    full_ok = early_ok = 0
    used = []
    for i in range(301, 401):
        frames, label = sample(i)
        res = net.classify(frames, early_exit=policy)
        early_ok += int(res.index == label)
        used.append(res.steps)
        assert res.steps == STEPS or res.confidence > chosen.threshold
        assert abs(res.probabilities.sum() - 1) < 1e-9
        full_ok += int(net.classify(frames).index == label)
    mean_steps = float(np.mean(used))
    assert mean_steps <= 0.3 * STEPS, f"mean steps {mean_steps} ({chosen})"
    assert early_ok >= full_ok - 1, f"early exit {early_ok}% vs full {full_ok}%"


def test_membrane_readout_and_min_max_steps(nmnist):
    model, sample = nmnist
    net = snn.load(model, convention="nir")
    frames, label = sample(1)
    res = net.classify(frames, early_exit=snn.DynamicConfidence(threshold=0.999999, temperature=1.0,
                                                              min_steps=5, max_steps=40))
    assert res.steps == 40
    res = net.classify(frames, early_exit=snn.DynamicConfidence(threshold=0.0, min_steps=7, max_steps=40))
    assert res.steps == 7
    res = net.classify(frames, early_exit=snn.DynamicConfidence(threshold=0.0, readout="membrane",
                                                              min_steps=60, max_steps=100))
    membrane = net.readout_layer.v
    assert res.steps == 60 and res.index == int(np.argmax(membrane))
    with pytest.raises(ValueError, match="readout"):
        snn.DynamicConfidence(readout="rate")
