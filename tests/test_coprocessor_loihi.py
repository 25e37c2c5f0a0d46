"""coprocessor.loihi: the N-MNIST CNN on Lava's fixed-point simulator (in the Lava interpreter)
against our Numba engine; bad networks refused before anything runs."""
from __future__ import annotations

import nir
import numpy as np
import pytest

from nodes.coprocessors.loihi_node import Loihi
from tests.conftest import need
from tools.bench.coprocessors import lava_python, run_lava, run_ours, samples

IDS = list(range(1, 13))
STEPS = 150
EARLY = {"policy": "dynamic_confidence", "threshold": 0.95, "temperature": 10.0, "max_steps": STEPS}


@pytest.fixture(scope="module")
def lava():
    if not lava_python().exists():
        pytest.skip(f"no Lava interpreter at {lava_python()} (make it with tools/envs/make_lava_env.sh)")
    return lava_python()


@pytest.mark.lava
@pytest.mark.integration
def test_cnn_on_lava_agrees_with_engine(shared_data, lava):
    model = str(need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir"))
    need(shared_data / "nmnist" / "labels.txt")
    got = run_lava(model, IDS, STEPS, EARLY, timeout_s=240)
    ref = run_ours(model, samples(IDS, STEPS), STEPS, EARLY)
    agree = sum(a["index"] == b["index"] for a, b in zip(got["decisions"], ref["decisions"]))
    assert agree >= 0.95 * len(IDS), f"Lava and the engine agree on {agree}/{len(IDS)} samples"
    assert got["backend"] == "Loihi2SimCfg(fixed_pt)" and got["counters"]["backend_sim"] == 1
    # Early exit ran: Dynamic Confidence stopped some samples before max_steps.
    assert min(d["steps"] for d in got["decisions"]) < STEPS
    # One report per spiking layer; rounding to 8-bit mantissas leaves a small error.
    g = nir.read(model)
    spiking = [k for k, v in g.nodes.items() if isinstance(v, nir.IF)]
    q = got["quantization"]
    assert sorted(r["layer"] for r in q) == sorted(spiking)
    for r in q:
        assert 0 < r["weight_rel_rms"] < 0.03, r
        assert 1 <= r["vth"] < 2 ** 17 and -8 <= r["weight_exp"] <= 7


def test_quantised_weights_match_nir_within_half_a_step(shared_data):
    """The Affine layer's integers, read back with its scale, are the NIR weights to ±½ step."""
    from nodes.coprocessors.loihi_fixed_point import quantize
    from nodes.coprocessors.lowering import stages
    import nodes.snn as snn
    model = need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir")
    net = snn.load(model, dt=1e-3, convention="nir")
    last = quantize(stages(net)[-1])
    w = np.asarray(nir.read(model).nodes["11"].weight, np.float64)
    thr = np.asarray(nir.read(model).nodes["12"].v_threshold, np.float64)
    real = last.mant * 2.0 ** last.weight_exp / last.vth * thr[:, None]
    step = 2 * 2.0 ** last.weight_exp / last.vth * thr.max()  # mixed sign: even mantissas
    assert np.abs(real - w).max() <= step / 2 + 1e-12


def _write(tmp_path, nodes, edges, name="net.nir"):
    path = tmp_path / name
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=edges))
    return str(path)


def _lif(n):
    return nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))


def test_unsupported_neuron_refused_before_start(tmp_path):
    """A non-spiking LI output cannot be read as spikes: the node's name and the NIR node's."""
    w = np.ones((3, 4), np.float32)
    path = _write(tmp_path, {"input": nir.Input(np.array([4])), "fc": nir.Affine(w, np.zeros(3)),
                             "li": nir.LI(tau=np.full(3, 0.02), r=np.ones(3), v_leak=np.zeros(3)),
                             "output": nir.Output(np.array([3]))},
                  [("input", "fc"), ("fc", "li"), ("li", "output")])
    node = Loihi(model=path)
    node.name = "chip"
    with pytest.raises(ValueError, match=r"'chip'.*'li' is a LI.*supported neurons"):
        node.start()


def test_network_too_large_for_chips(tmp_path):
    n = 2000
    path = _write(tmp_path, {"input": nir.Input(np.array([n])),
                             "fc": nir.Linear(np.full((n, n), 0.1, np.float32)), "lif": _lif(n),
                             "output": nir.Output(np.array([n]))},
                  [("input", "fc"), ("fc", "lif"), ("lif", "output")])
    import nodes.coprocessors.loihi_node as mod
    old = mod.SYNAPSES_PER_CHIP
    mod.SYNAPSES_PER_CHIP = 1_000_000  # a 4 M-synapse layer against a 1 M-synapse chip
    try:
        with pytest.raises(ValueError, match=r"needs 2000 neurons and 4000000 synapses.*raise `chips`"):
            Loihi(model=path).start()
    finally:
        mod.SYNAPSES_PER_CHIP = old


def test_subtract_reset_convention_refused(tmp_path):
    path = _write(tmp_path, {"input": nir.Input(np.array([2])), "fc": nir.Linear(np.eye(2, dtype=np.float32)),
                             "lif": _lif(2), "output": nir.Output(np.array([2]))},
                  [("input", "fc"), ("fc", "lif"), ("lif", "output")])
    with pytest.raises(ValueError, match="convention 'sinabs'.*use convention 'nir'"):
        Loihi(model=path, convention="sinabs").start()


def test_without_lava_says_which_interpreter(tmp_path):
    try:
        import lava  # noqa: F401
        pytest.skip("Lava is importable here")
    except ImportError:
        pass
    path = _write(tmp_path, {"input": nir.Input(np.array([2])), "fc": nir.Linear(np.eye(2, dtype=np.float32)),
                             "lif": _lif(2), "output": nir.Output(np.array([2]))},
                  [("input", "fc"), ("fc", "lif"), ("lif", "output")])
    with pytest.raises(RuntimeError, match="Lava is not importable.*make_lava_env.sh"):
        Loihi(model=path).start()
