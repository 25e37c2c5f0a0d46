"""Our engine against snnTorch on the same NIR graphs and inputs, spike for spike."""
from __future__ import annotations

import nir
import numpy as np
import pytest

import nodes.snn as snn
from tests.conftest import need

torch = pytest.importorskip("torch")
snntorch = pytest.importorskip("snntorch")
import snntorch.utils  # noqa: E402

DT = 1e-4  # snnTorch's NIR import and export fix dt at 0.1 ms


def _run_torch(module, x: np.ndarray) -> np.ndarray:
    snntorch.utils.reset(module)
    out = []
    with torch.no_grad():
        for t in range(len(x)):
            o = module(torch.from_numpy(x[t])[None])
            out.append((o[0] if isinstance(o, tuple) else o).reshape(-1))
    return torch.stack(out).numpy()


def _feedforward_graph(rng) -> nir.NIRGraph:
    """Affine → LIF → Linear → CubaLIF, with r = τ/dt as snnTorch's import requires."""
    tau = rng.uniform(3e-4, 1e-3, 30)
    ts, tm = np.full(6, 3e-4), np.full(6, 8e-4)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([20])}),
        "fc1": nir.Affine(weight=rng.normal(0, 0.5, (30, 20)).astype(np.float32),
                          bias=rng.normal(0, 0.1, 30).astype(np.float32)),
        "lif1": nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(30), v_threshold=np.full(30, 0.7),
                        v_reset=np.zeros(30)),
        "fc2": nir.Linear(weight=rng.normal(0, 0.5, (6, 30)).astype(np.float32)),
        "lif2": nir.CubaLIF(tau_syn=ts, tau_mem=tm, r=tm / DT, v_leak=np.zeros(6),
                            v_threshold=np.full(6, 1.0), v_reset=np.zeros(6), w_in=ts / DT),
        "output": nir.Output(output_type={"output": np.array([6])})},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        type_check=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_import_from_nir_gives_our_spikes(seed):
    from snntorch.import_nir import import_from_nir
    rng = np.random.default_rng(seed)
    graph = _feedforward_graph(rng)
    x = (rng.random((300, 20)) < 0.3).astype(np.float32) * 2
    ref = _run_torch(import_from_nir(graph), x)
    # snnTorch's import builds reset_mechanism="zero", reset_delay=False neurons: NIR's rules.
    ours = snn.load(graph, dt=DT, convention="nir").step(x)
    assert ref.sum() > 50 and (ref.sum(0) > 0).sum() >= 3  # a network that does spike
    np.testing.assert_array_equal(ours, ref)


def _braille_torch(graph: nir.NIRGraph, reset: str):
    """The snnTorch modules snntorch.import_nir maps the braille graph to (RSynaptic, Synaptic),
    with snnTorch's default reset_delay=True (RSynaptic delays its reset whatever the flag).

    snntorch 1.0's import_from_nir cannot build recurrent subgraphs under nirtorch 2.x, so the
    same mapping (α = 1 − dt/τ_syn, β = 1 − dt/τ_mem, w_in·dt/τ_syn = 1) is assembled here.
    """
    fc1, wrec, lif1, fc2, lif2 = (graph.nodes[k] for k in ("fc1", "lif1.w_rec", "lif1.lif", "fc2", "lif2"))

    def lin(node):
        w = torch.from_numpy(np.asarray(node.weight, np.float32))
        m = torch.nn.Linear(w.shape[1], w.shape[0], bias=hasattr(node, "bias"))
        m.weight.data = w
        if hasattr(node, "bias"):
            m.bias.data = torch.from_numpy(np.asarray(node.bias, np.float32))
        return m

    def ab(node):
        for k in ("tau_syn", "tau_mem"):
            assert np.unique(node.__dict__[k]).size == 1
        np.testing.assert_allclose(node.w_in * DT / node.tau_syn, 1.0, rtol=1e-5)
        return float(1 - DT / node.tau_syn[0]), float(1 - DT / node.tau_mem[0])

    a1, b1 = ab(lif1)
    rec = snntorch.RSynaptic(alpha=a1, beta=b1, threshold=float(lif1.v_threshold[0]),
                             reset_mechanism=reset, all_to_all=True, linear_features=len(lif1.tau_syn))
    rec.recurrent = lin(wrec)
    a2, b2 = ab(lif2)
    out = snntorch.Synaptic(alpha=a2, beta=b2, threshold=float(lif2.v_threshold[0]),
                            reset_mechanism=reset)
    lin1, lin2 = lin(fc1), lin(fc2)

    def run(x: np.ndarray):
        """Hidden and output spikes (steps, n), state carried explicitly as snnTorch does."""
        spk, syn, mem = (torch.zeros(1, len(lif1.tau_syn)) for _ in range(3))
        syn2, mem2 = (torch.zeros(1, len(lif2.tau_syn)) for _ in range(2))
        hidden, output = [], []
        with torch.no_grad():
            for t in range(len(x)):
                spk, syn, mem = rec(lin1(torch.from_numpy(x[t])[None]), spk, syn, mem)
                z, syn2, mem2 = out(lin2(spk), syn2, mem2)
                hidden.append(spk[0])
                output.append(z[0])
        return torch.stack(hidden).numpy(), torch.stack(output).numpy()
    return run


@pytest.mark.parametrize("name,reset", [("braille_noDelay_bias_zero.nir", "zero"),
                                        ("braille_noDelay_noBias_subtract.nir", "subtract")])
def test_braille_recurrent_graphs_match_snntorch(shared_data, name, reset):
    graph = nir.read(str(need(shared_data / "nir" / "03_rnn" / name)))
    rng = np.random.default_rng(7)
    # Braille input: 12 channels of sparse binary events, 256 steps of 0.1 ms.
    x = (rng.random((256, 12)) < 0.15).astype(np.float32)
    hidden_ref, out_ref = _braille_torch(graph, reset)(x)
    net = snn.load(graph, dt=DT, convention="snntorch",
                   reset="v_reset" if reset == "zero" else "subtract")
    out, rec = net.step(x, record=("lif1.lif",))
    assert hidden_ref.sum() > 40  # the recorded activities hold ~120 spikes
    np.testing.assert_array_equal(rec["lif1.lif"], hidden_ref)
    np.testing.assert_array_equal(out, out_ref)
