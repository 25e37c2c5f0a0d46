"""The classifier contract: one Classifier over any backend. A backend whose outputs come
back steps late, many bins per call (as Loihi's do), decides exactly as the in-process
engine; parameters a backend cannot honour are refused before anything starts."""
from __future__ import annotations

import collections

import numpy as np
import pydantic
import pytest

from nodes.coprocessors.loihi_node import Loihi
from nodes.coprocessors.spinnaker_node import SpiNNaker
from nodes.snn import DynamicConfidence, load
from nodes.snn.classifier import Classifier
from nodes.snn.early_exit import EarlyExit
from nodes.snn.infer_node import Infer, NumbaBackend
from streamer.streams import frames, marker
from tests.conftest import need
from tools.calibrate import nmnist_frames


class Pipelined(NumbaBackend):
    """The engine with a pipeline of `depth` steps in front of its outputs, run in blocks:
    the output row of bin t comes back with bin t + depth, as on a chip whose every
    connection holds its output one step."""

    block = 1 << 30

    def __init__(self, net, depth: int) -> None:
        super().__init__(net)
        self.label, self.depth = "pipelined", depth
        self.line = collections.deque(np.zeros((depth, self.n_out), np.float32))

    def advance(self, frames_: np.ndarray) -> np.ndarray:
        rows = []
        for y in self.net.step(frames_):
            self.line.append(y.reshape(-1))
            rows.append(self.line.popleft())
        return np.array(rows, np.float32).reshape(len(rows), self.n_out)

    def reset(self) -> None:
        super().reset()
        self.line = collections.deque(np.zeros((self.depth, self.n_out), np.float32))


@pytest.fixture(scope="module")
def nmnist(shared_data):
    root = need(shared_data / "nmnist")
    model = need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir")
    return str(model), [nmnist_frames(root / f"{i}.bin") for i in (1, 2, 3, 4)]


def _decide(params: dict, backend, messages) -> list[tuple]:
    counters: collections.Counter = collections.Counter()
    c = Classifier(Infer.Params(**params), backend, lambda k, n=1: counters.update({k: n}), "test")
    out = []
    for m in messages:
        r = c.marker(m[1]) if isinstance(m, tuple) else c.bins(m)
        out += (r or {}).get("decision", [])
    out += (c.finish() or {}).get("decision", [])
    return [(d.data["index"], d.data["steps"], round(d.data["confidence"], 9), d.t_origin) for d in out]


def test_a_pipelined_backend_decides_as_the_engine(nmnist):
    model, samples = nmnist
    stream = np.concatenate(samples[:3])
    chunks = [frames(stream[i:i + 40], bin_us=1000, t_first_us=i * 1000, t_origin=float(i))
              for i in range(0, len(stream), 40)]
    early = {"threshold": 0.8, "temperature": 15.0, "max_steps": 300}
    continuous = dict(model=model, convention="sinabs", early_exit=early)
    onsets = [("markers", marker("go", time_s=t)) for t in (0.050, 0.400, 0.700)]
    trial = dict(continuous, mode="trial")
    trial_msgs = chunks[:3] + onsets + chunks[3:]  # markers late: their bins were held
    for params, msgs in ((continuous, chunks), (trial, trial_msgs)):
        ref = _decide(params, NumbaBackend(load(model, convention="sinabs")), msgs)
        assert len(ref) >= 3
        for depth in (1, 5):
            got = _decide(params, Pipelined(load(model, convention="sinabs"), depth), msgs)
            assert got == ref, (params.get("mode"), depth)


def test_policy_none_runs_every_step():
    rule = EarlyExit(policy="none", threshold=0.0, max_steps=7).rule()
    assert rule.threshold is None
    t = rule.tracker(2)
    stops = [t.update(np.array([5.0, 0.0])) for _ in range(7)]
    assert stops == [False] * 6 + [True]  # confident from the first step, yet it runs all 7
    assert DynamicConfidence.full_window(3).tracker(2).policy.threshold is None


@pytest.mark.parametrize("node, params, field", [
    (Loihi, {"readout": "membrane"}, "readout"),
    (Loihi, {"readout": "membrane_mean"}, "readout"),
    (SpiNNaker, {"readout": "membrane"}, "readout"),
    (SpiNNaker, {"readout": "membrane_mean"}, "readout"),
    (SpiNNaker, {"mode": "trial"}, "mode"),
])
def test_backends_refuse_what_they_cannot_honour(node, params, field, tmp_path):
    model = tmp_path / "m.nir"
    model.write_bytes(b"")
    with pytest.raises(pydantic.ValidationError, match=f"{field} '{params[field]}' is not supported here"):
        node.Params(model=str(model), **params)
    node.Params(model=str(model))  # the defaults are fine
    node.Params(model=str(model), readout="spikes_mean")  # output spikes come back: their mean can be read


def test_the_three_nodes_share_one_parameter_set():
    shared = set(Infer.Params.model_fields)
    assert shared <= set(Loihi.Params.model_fields) and shared <= set(SpiNNaker.Params.model_fields)
    for cls in (Loihi, SpiNNaker):
        for name in shared:
            assert cls.Params.model_fields[name].description == Infer.Params.model_fields[name].description
