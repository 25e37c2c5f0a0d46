"""The NIR paper's N-MNIST CNN (exported by sinabs) on real N-MNIST recordings."""
from __future__ import annotations

import numpy as np
import pytest

import nodes.snn as snn
from drivers.dvs.nmnist import read_nmnist
from tests.conftest import need

STEPS = 300


def nmnist_frames(path, steps: int = STEPS) -> np.ndarray:
    """Event counts in 1 ms bins of (polarity, y, x), from the sample's start."""
    ev = read_nmnist(path)
    b = ev["t"] // 1000
    keep = b < steps
    frames = np.zeros((steps, 2, 34, 34), np.float32)
    np.add.at(frames, (b[keep], ev["p"][keep].astype(np.int64), ev["y"][keep], ev["x"][keep]), 1)
    return frames


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
        counts = net.run(frames).sum(axis=0)
        correct += int(np.argmax(counts) == label)
    # data/README.md: 96-99% under either rule set.
    assert correct >= 95, f"{correct}/100 correct with the {convention} convention"


def _policy_outcome(cum: np.ndarray, temperature: float, threshold: float):
    """Where Dynamic Confidence would stop on accumulated counts cum (n, steps, classes)."""
    z = cum / temperature
    p = np.exp(z - z.max(-1, keepdims=True))
    conf = (p / p.sum(-1, keepdims=True)).max(-1)
    hit = conf > threshold
    stop = np.where(hit.any(1), hit.argmax(1), cum.shape[1] - 1)
    return stop + 1, cum[np.arange(len(cum)), stop].argmax(1)


def test_dynamic_confidence_saves_steps_at_equal_accuracy(nmnist):
    model, sample = nmnist
    net = snn.load(model, convention="sinabs")
    # Calibrate on samples 100-299 from full-length runs.
    cum, y = [], []
    for i in range(100, 300):
        frames, label = sample(i)
        net.reset()
        cum.append(np.cumsum(net.run(frames), axis=0))
        y.append(label)
    cum, y = np.array(cum), np.array(y)
    full_acc = np.mean(cum[:, -1].argmax(1) == y)
    choices = []
    for temperature in (5.0, 10.0, 15.0, 20.0, 30.0):
        for threshold in (0.8, 0.9, 0.95, 0.99):
            steps, pred = _policy_outcome(cum, temperature, threshold)
            if np.mean(pred == y) >= full_acc - 0.01:
                choices.append((steps.mean(), temperature, threshold))
    assert choices, "no temperature/threshold keeps the calibration accuracy"
    _, temperature, threshold = min(choices)
    policy = snn.DynamicConfidence(threshold=threshold, temperature=temperature, min_steps=1,
                                   max_steps=STEPS)
    # Score on samples 300-399, unseen by the calibration.
    full_ok = early_ok = 0
    used = []
    for i in range(300, 400):
        frames, label = sample(i)
        res = net.infer(frames, early_exit=policy)
        early_ok += int(res.index == label)
        used.append(res.steps)
        assert res.steps == STEPS or res.confidence > threshold
        assert abs(res.probabilities.sum() - 1) < 1e-9
        full_ok += int(net.infer(frames).index == label)
    mean_steps = float(np.mean(used))
    assert mean_steps <= 0.3 * STEPS, f"mean steps {mean_steps} (T={temperature}, θ={threshold})"
    assert early_ok >= full_ok - 1, f"early exit {early_ok}% vs full {full_ok}%"


def test_membrane_readout_and_min_max_steps(nmnist):
    model, sample = nmnist
    net = snn.load(model, convention="nir")
    frames, label = sample(1)
    res = net.infer(frames, early_exit=snn.DynamicConfidence(threshold=0.999999, temperature=1.0,
                                                              min_steps=5, max_steps=40))
    assert res.steps == 40
    res = net.infer(frames, early_exit=snn.DynamicConfidence(threshold=0.0, min_steps=7, max_steps=40))
    assert res.steps == 7
    res = net.infer(frames, early_exit=snn.DynamicConfidence(threshold=0.0, readout="membrane",
                                                              min_steps=60, max_steps=100))
    membrane = net.readout_layer.v
    assert res.steps == 60 and res.index == int(np.argmax(membrane))
    with pytest.raises(ValueError, match="readout"):
        snn.DynamicConfidence(readout="rate")
