"""NIR import and the step engine against recorded traces, PyTorch ops and a NumPy model."""
from __future__ import annotations

import nir
import numpy as np
import pytest

import nodes.snn as snn
from tests.conftest import need


def _graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _io(shape_in, shape_out):
    return {"input": nir.Input(input_type={"input": np.array(shape_in)}),
            "output": nir.Output(output_type={"output": np.array(shape_out)})}


def test_lif_reproduces_norse_trace(shared_data):
    """One LIF neuron: Norse's recorded membrane and spikes (columns: input, v, spike)."""
    path = need(shared_data / "nir" / "01_lif" / "lif_norse.nir")
    trace = np.loadtxt(shared_data / "nir" / "01_lif" / "lif_norse.csv", delimiter=",")
    graph = nir.read(str(path))
    # One input spike raises v by dt/τ = 0.04 in the recording; τ = 2.5 ms, so dt = 0.1 ms.
    net = snn.load(graph, dt=1e-4, convention="norse")
    lif = next(layer for layer in net.layers if hasattr(layer, "v"))
    v, z = [], []
    for x in trace[:, 0]:
        z.append(net.step(np.array([x]))[0])
        v.append(lif.v[0])
    np.testing.assert_array_equal(np.array(z), trace[:, 2])
    np.testing.assert_allclose(np.array(v), trace[:, 1], atol=1e-6)
    assert trace[:, 2].sum() == 4


def _conv_ref(x, w, b, stride, pad, dil, groups):
    torch = pytest.importorskip("torch")
    out = torch.nn.functional.conv2d(torch.from_numpy(x[None].astype(np.float64)),
                                     torch.from_numpy(w.astype(np.float64)),
                                     torch.from_numpy(b.astype(np.float64)),
                                     stride=stride, padding=pad, dilation=dil, groups=groups)
    return out[0].numpy()


@pytest.mark.parametrize("density", [0.03, 0.6])  # event-driven and dense paths
@pytest.mark.parametrize("stride,pad,dil,groups", [((1, 1), (1, 1), (1, 1), 1),
                                                   ((2, 1), (0, 2), (1, 2), 2),
                                                   ((2, 2), (2, 1), (2, 1), 4)])
def test_conv2d_matches_torch(density, stride, pad, dil, groups):
    rng = np.random.default_rng(3)
    x = (rng.random((4, 11, 13)) < density) * rng.integers(1, 4, (4, 11, 13))
    w = rng.normal(size=(8, 4 // groups, 3, 3)).astype(np.float32)
    b = rng.normal(size=8).astype(np.float32)
    ref = _conv_ref(x, w, b, stride, pad, dil, groups)
    conv = nir.Conv2d(input_shape=np.array([11, 13]), weight=w, stride=np.array(stride),
                      padding=np.array(pad), dilation=np.array(dil), groups=groups, bias=b)
    g = _graph({**_io((4, 11, 13), ref.shape), "c": conv},
               [("input", "c"), ("c", "output")])
    net = snn.load(g)
    assert net.out_shape == ref.shape
    np.testing.assert_allclose(net.step(x), ref, rtol=1e-5, atol=1e-4)


def test_conv_same_valid_and_conv1d_and_avgpool_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    x = rng.random((3, 9, 9)).astype(np.float32)
    w = rng.normal(size=(2, 3, 3, 3)).astype(np.float32)
    b = np.zeros(2, np.float32)
    for padding in ("same", "valid"):
        conv = nir.Conv2d(input_shape=np.array([9, 9]), weight=w, stride=1, padding=padding,
                          dilation=2, groups=1, bias=b)
        ref = F.conv2d(torch.from_numpy(x[None]), torch.from_numpy(w), padding=padding,
                       dilation=2)[0].numpy()
        net = snn.load(_graph({**_io(x.shape, ref.shape), "c": conv}, [("input", "c"), ("c", "output")]))
        np.testing.assert_allclose(net.step(x), ref, rtol=1e-5, atol=1e-5)
    pool = nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([2, 2]), padding=np.array([1, 1]))
    ref = F.avg_pool2d(torch.from_numpy(x[None]), 3, 2, 1, count_include_pad=True)[0].numpy()
    net = snn.load(_graph({**_io(x.shape, ref.shape), "p": pool}, [("input", "p"), ("p", "output")]))
    np.testing.assert_allclose(net.step(x), ref, rtol=1e-5, atol=1e-6)
    x1 = rng.random((3, 20)).astype(np.float32)
    w1 = rng.normal(size=(4, 3, 5)).astype(np.float32)
    b1 = rng.normal(size=4).astype(np.float32)
    ref = F.conv1d(torch.from_numpy(x1[None]), torch.from_numpy(w1), torch.from_numpy(b1),
                   stride=2, padding=1, dilation=1)[0].numpy()
    c1 = nir.Conv1d(input_shape=20, weight=w1, stride=2, padding=1, dilation=1, groups=1, bias=b1)
    net = snn.load(_graph({**_io(x1.shape, ref.shape), "c": c1}, [("input", "c"), ("c", "output")]))
    np.testing.assert_allclose(net.step(x1), ref, rtol=1e-5, atol=1e-5)


def _random_recurrent_graph(rng):
    """conv → LIF → sum pool → flatten → [subgraph: affine] → CubaLIF ⟲ linear → output."""
    w = rng.normal(0, 0.8, (3, 2, 3, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, 3).astype(np.float32)
    wa = rng.normal(0, 0.7, (5, 27)).astype(np.float32)
    ba = rng.normal(0, 0.1, 5).astype(np.float32)
    wr = rng.normal(0, 0.5, (5, 5)).astype(np.float32)
    tau = rng.uniform(5e-3, 2e-2, (3, 6, 6)).astype(np.float32)
    p = dict(w=w, b=b, wa=wa, ba=ba, wr=wr, tau=tau, tau_syn=np.full(5, 4e-3, np.float32),
             tau_mem=np.full(5, 8e-3, np.float32), thr=np.float32(0.3))
    sub = _graph({"input": nir.Input(input_type={"input": np.array([27])}),
                  "aff": nir.Affine(weight=wa, bias=ba),
                  "output": nir.Output(output_type={"output": np.array([5])})},
                 [("input", "aff"), ("aff", "output")])
    nodes = {**_io((2, 6, 6), (5,)),
             "conv": nir.Conv2d(input_shape=np.array([6, 6]), weight=w, stride=1, padding=1,
                                dilation=1, groups=1, bias=b),
             "lif": nir.LIF(tau=tau, r=np.ones_like(tau), v_leak=np.zeros_like(tau),
                            v_threshold=np.full_like(tau, 0.5), v_reset=np.zeros_like(tau)),
             "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                   padding=np.array([0, 0])),
             "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0, end_dim=-1),
             "sub": sub,
             "cuba": nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau_mem"], r=np.full(5, 2.0, np.float32),
                                 v_leak=np.zeros(5, np.float32), v_threshold=np.full(5, p["thr"]),
                                 v_reset=np.zeros(5, np.float32)),
             "rec": nir.Linear(weight=wr)}
    edges = [("input", "conv"), ("conv", "lif"), ("lif", "pool"), ("pool", "flat"), ("flat", "sub"),
             ("sub", "cuba"), ("cuba", "rec"), ("rec", "cuba"), ("cuba", "output")]
    return _graph(nodes, edges), p


def _numpy_reference(frames, p, dt):
    """The same network written out plainly (NIR rules: v > θ, reset to 0)."""
    w, b = p["w"], p["b"]
    v1 = np.zeros((3, 6, 6))
    syn, v2, z2 = np.zeros(5), np.zeros(5), np.zeros(5)
    outs = []
    for x in frames:
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        c = np.empty((3, 6, 6))
        for o in range(3):
            for i in range(6):
                for j in range(6):
                    c[o, i, j] = b[o] + np.sum(w[o] * xp[:, i:i + 3, j:j + 3])
        v1 = v1 + dt / p["tau"] * (-v1 + c)
        z1 = (v1 > 0.5).astype(float)
        v1 = np.where(z1 > 0, 0.0, v1)
        pooled = z1.reshape(3, 3, 2, 3, 2).sum(axis=(2, 4))
        a = p["wa"] @ pooled.reshape(-1) + p["ba"]
        inp = a + p["wr"] @ z2          # recurrent input: last step's spikes
        syn = syn + dt / p["tau_syn"] * (-syn + inp)
        v2 = v2 + dt / p["tau_mem"] * (-v2 + 2.0 * syn)
        z2 = (v2 > p["thr"]).astype(float)
        v2 = np.where(z2 > 0, 0.0, v2)
        outs.append(z2)
    return np.array(outs)


def test_random_recurrent_graph_matches_numpy_reference():
    rng = np.random.default_rng(11)
    graph, p = _random_recurrent_graph(rng)
    frames = (rng.random((120, 2, 6, 6)) < 0.3).astype(np.float32) * 3
    net = snn.load(graph, dt=1e-3, convention="nir")
    assert [n for n in net.names if n.startswith("sub.")] == ["sub.input", "sub.aff", "sub.output"]
    got = net.step(frames)
    ref = _numpy_reference(frames, p, 1e-3)
    assert ref.sum() > 20 and (ref.sum(0) > 0).sum() >= 2  # the network does spike
    np.testing.assert_array_equal(got, ref)
    net.reset()
    np.testing.assert_array_equal(net.step(frames[:50]), ref[:50])


def test_sinabs_convention_multi_spike_subtract_and_floor():
    g = _graph({**_io((3,), (3,)), "if": nir.IF(r=np.ones(3), v_threshold=np.full(3, 1.0),
                                                  v_reset=np.zeros(3))},
               [("input", "if"), ("if", "output")])
    net = snn.load(g, convention="sinabs")
    np.testing.assert_array_equal(net.step(np.array([2.5, 1.0, -4.0])), [2, 1, 0])
    lif = net.layers[1]
    np.testing.assert_allclose(lif.v, [0.5, 0.0, -1.0])  # subtract reset, v floored at -1
    strict = snn.load(g, convention="nir")
    np.testing.assert_array_equal(strict.step(np.array([2.5, 1.0, -4.0])), [1, 0, 0])
    np.testing.assert_allclose(strict.layers[1].v, [0.0, 1.0, -4.0])


def test_delay_threshold_scale_chain():
    g = _graph({**_io((2,), (2,)), "s": nir.Scale(scale=np.array([2.0, 1.0])),
                "d": nir.Delay(delay=np.array([3e-3, 1e-3])),
                "t": nir.Threshold(threshold=np.array([1.5, 0.5]))},
               [("input", "s"), ("s", "d"), ("d", "t"), ("t", "output")])
    net = snn.load(g, dt=1e-3)
    x = np.zeros((6, 2), np.float32)
    x[0] = 1.0
    out = net.step(x)
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(out[:, 1], [0, 1, 0, 0, 0, 0])


def test_bad_graphs_name_the_node(tmp_path):
    aff = nir.Affine(weight=np.ones((4, 7), np.float32), bias=np.zeros(4, np.float32))
    g = _graph({**_io((5,), (4,)), "fc1": aff}, [("input", "fc1"), ("fc1", "output")])
    with pytest.raises(ValueError, match=r"'fc1'.*receives shape \(5,\)"):
        snn.load(g)

    class Weird(nir.NIRNode):
        def __init__(self) -> None:  # a node type from a newer NIR than this engine knows
            self.input_type = self.output_type = {"input": np.array([5])}
            self.metadata = {}
    g = _graph({**_io((5,), (5,)), "odd": Weird()}, [("input", "odd"), ("odd", "output")])
    with pytest.raises(ValueError, match="'odd' is a Weird, which this engine does not run"):
        snn.load(g)
    g = _graph(_io((5,), (5,)), [("input", "output")])
    with pytest.raises(ValueError, match="unknown convention 'loihi'"):
        snn.load(g, convention="loihi")
    with pytest.raises(FileNotFoundError, match="not found"):
        snn.load(tmp_path / "missing.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="bad.nir: not a readable NIR file"):
        snn.load(bad)
    net = snn.load(g)
    with pytest.raises(ValueError, match=r"step input must have shape \(5,\)"):
        net.step(np.zeros(4))


def test_export_round_trip_keeps_every_node_and_output(tmp_path, shared_data):
    """load → save → nir.read → load runs the same spikes; parameters are written exactly."""
    rng = np.random.default_rng(4)
    graph, _ = _random_recurrent_graph(rng)
    cases = [(graph, "nir", 1e-3, (2, 6, 6))]
    cnn = shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir"
    if cnn.exists():
        cases.append((nir.read(str(cnn)), "sinabs", 1e-3, (2, 34, 34)))
    for g, convention, dt, shape in cases:
        net = snn.load(g, dt=dt, convention=convention)
        path = net.save(tmp_path / "net.nir")
        back = nir.read(str(path))
        assert back.metadata["convention"] == convention
        again = snn.load(path, dt=dt, convention=convention)
        frames = (rng.random((60,) + shape) < 0.2).astype(np.float32) * 2
        np.testing.assert_array_equal(again.step(frames), net.step(frames))
    # The nested subgraph is written flat, its own Input/Output bypassed.
    flat = snn.to_nir(snn.load(graph))
    assert "sub.aff" in flat.nodes and "sub.input" not in flat.nodes
    assert ("flat", "sub.aff") in flat.edges and ("rec", "cuba") in flat.edges
    np.testing.assert_array_equal(flat.nodes["lif"].tau, graph.nodes["lif"].tau)
    np.testing.assert_array_equal(flat.nodes["conv"].weight, graph.nodes["conv"].weight)


def test_snntorch_delayed_reset_and_reset_override():
    """snnTorch's reset_delay: the spike at step t resets the potential of step t + 1."""
    g = _graph({**_io((1,), (1,)), "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1),
                                                  v_reset=np.zeros(1))},
               [("input", "if"), ("if", "output")])
    x = np.full((4, 1), 0.6, np.float32)
    # v: 0.6, 1.2 (spike), 1.8 - 1 = 0.8, 1.4 (spike)
    np.testing.assert_array_equal(snn.load(g, convention="snntorch").step(x)[:, 0], [0, 1, 0, 1])
    # zero reset: the step after a spike starts from 0, its input is lost
    zero = snn.load(g, convention="snntorch", reset="v_reset")
    np.testing.assert_array_equal(zero.step(x)[:, 0], [0, 1, 0, 0])
    np.testing.assert_allclose(zero.layers[1].v, [0.6])
    with pytest.raises(ValueError, match="unknown reset 'hard'"):
        snn.load(g, reset="hard")
