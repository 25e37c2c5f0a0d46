"""The event-driven synapse loops against the dense ones, spike for spike, on every shipped
network and on real N-MNIST samples; and the one-call step against layer-by-layer stepping."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nodes.snn as snn
from tests.conftest import need
from tools.calibrate import nmnist_frames

MODELS = Path(__file__).resolve().parents[1] / "models"


def _random_input(net, steps: int, density: float, seed: int) -> np.ndarray:
    """Sparse event counts of the network's input shape, as binned events or spikes are."""
    rng = np.random.default_rng(seed)
    hits = rng.random((steps,) + net.in_shape) < density
    return (hits * rng.integers(1, 4, hits.shape)).astype(np.float32)


def _run_all_paths(net, frames: np.ndarray) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Outputs and every layer's outputs under each synapse path."""
    layers = tuple(n for i, n in enumerate(net.names) if i != net._in)
    runs = {}
    for path in ("auto", "dense", "event"):
        net.synapse_path(path)
        net.reset()
        runs[path] = net.step(frames, record=layers)
    net.synapse_path("auto")
    return runs


def _assert_paths_equal(runs, what: str) -> None:
    out, rec = runs["dense"]
    spikes = sum(int(np.count_nonzero(v)) for v in rec.values())
    assert spikes > 0, f"{what}: no layer produced anything, the comparison would be empty"
    for path in ("auto", "event"):
        o, r = runs[path]
        np.testing.assert_array_equal(o, out, err_msg=f"{what}: {path} output differs from dense")
        for name, ref in rec.items():
            np.testing.assert_array_equal(r[name], ref, err_msg=f"{what}: layer {name} differs ({path})")


def _layer_by_layer(net, frames: np.ndarray) -> np.ndarray:
    """The network stepped one layer call at a time, as before the one-call step."""
    net.reset()
    out = np.empty((len(frames),) + net.out_shape, np.float32)
    for t, x in enumerate(frames):
        outs: list = [None] * len(net.layers)
        outs[net._in] = x
        for i, layer in enumerate(net.layers):
            if i == net._in:
                continue
            ins = [outs[s] for s, delayed in net.inputs[i]]
            xi = ins[0] if len(ins) == 1 else sum(a.reshape(layer.in_shape) for a in ins)
            outs[i] = layer.step(xi).copy()
        out[t] = outs[net._out]
    return out


# Each shipped model with its input: (file, steps, input density) for generated spikes.
SHIPPED = [("shapes.nir", 30, 0.05), ("motor_imagery.nir", 200, 0.1),
           ("eegmmidb_left_right.nir", 140, 0.15)]


@pytest.mark.parametrize("convention", ["nir", "sinabs", "snntorch"])
@pytest.mark.parametrize("model,steps,density", SHIPPED)
def test_event_and_dense_paths_agree_on_shipped_networks(model, steps, density, convention):
    net = snn.load(MODELS / model, convention=convention)
    frames = _random_input(net, steps, density, seed=len(model))
    _assert_paths_equal(_run_all_paths(net, frames), f"{model} ({convention})")
    np.testing.assert_array_equal(_layer_by_layer(net, frames), (net.reset(), net.step(frames))[1])


@pytest.mark.parametrize("model,steps,bin_us", [("nmnist.nir", 30, 10_000), ("nmnist_csnn_lif.nir", 300, 1000)])
def test_event_and_dense_paths_agree_on_nmnist_models(shared_data, model, steps, bin_us):
    root = need(shared_data / "nmnist")
    net = snn.load(MODELS / model, dt=bin_us * 1e-6)
    for i in (1, 2, 3):
        frames = nmnist_frames(root / f"{i}.bin", steps, bin_us)
        _assert_paths_equal(_run_all_paths(net, frames), f"{model} sample {i}")


@pytest.mark.parametrize("convention", ["sinabs", "nir"])
def test_event_and_dense_paths_agree_on_nmnist_cnn(shared_data, convention):
    """The benchmark's network (the NIR paper's CNN) on real samples: the event path is
    what runs there (inputs and hidden layers are mostly zeros), the dense path the check."""
    root = need(shared_data / "nmnist")
    net = snn.load(need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir"), convention=convention)
    for i in (1, 2):
        frames = nmnist_frames(root / f"{i}.bin", 300)
        runs = _run_all_paths(net, frames)
        _assert_paths_equal(runs, f"cnn_sinabs sample {i} ({convention})")
        np.testing.assert_array_equal(_layer_by_layer(net, frames), runs["auto"][0])


def test_synapse_path_names_the_choices():
    net = snn.load(MODELS / "shapes.nir")
    with pytest.raises(ValueError, match="auto, dense, event"):
        net.synapse_path("sparse")
