"""snn.infer on real N-MNIST frames, driven directly with streamer.testing."""
from __future__ import annotations

import numpy as np
import pytest

import nodes.snn as snn
from nodes.snn.infer_node import Infer
from streamer.streams import frames, marker, spikes
from streamer.testing import feed
from tests.conftest import need
from tools.calibrate import nmnist_frames

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def data(shared_data):
    root = need(shared_data / "nmnist")
    model = need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir")
    labels = dict(np.loadtxt(need(root / "labels.txt"), dtype=np.int64))
    return str(model), {i: (nmnist_frames(root / f"{i}.bin"), int(labels[i])) for i in (1, 2, 3, 4)}


def _chunks(x, size, t0=100.0):
    return [frames(x[i:i + size], bin_us=1000, t_origin=t0 + i) for i in range(0, len(x), size)]


def test_continuous_full_window_decides_every_300_bins(data):
    model, samples = data
    stream = np.concatenate([samples[i][0] for i in (1, 2, 3)])
    node = Infer(model=model, convention="nir", labels=DIGITS,
                 early_exit={"policy": "none", "max_steps": 300})
    node.start()
    out = feed(node, _chunks(stream, 25))["decision"]
    node.stop()
    assert [d.data["index"] for d in out] == [samples[i][1] for i in (1, 2, 3)]
    assert [d.data["label"] for d in out] == [DIGITS[samples[i][1]] for i in (1, 2, 3)]
    assert all(d.data["steps"] == 300 and d.data["policy"] == "none" for d in out)
    assert all(d.data["model"] == "cnn_sinabs.nir" for d in out)
    # Bin 299 of each sample is in the chunk starting at bin 275 (+300 per sample).
    assert [d.t_origin for d in out] == [100.0 + 275, 100.0 + 575, 100.0 + 875]
    assert abs(sum(out[0].data["probabilities"]) - 1) < 1e-6


def test_trial_mode_waits_for_marker_and_exits_early(data):
    model, samples = data
    x4, y4 = samples[4]
    quiet = np.zeros((40, 2, 34, 34), np.float32)
    node = Infer(model=model, convention="sinabs", mode="trial",
                 early_exit={"threshold": 0.8, "temperature": 15.0, "max_steps": 300})
    node.start()
    msgs = _chunks(quiet, 20) + [("markers", marker("go"))] + _chunks(x4, 50, t0=500.0)
    out = feed(node, msgs)["decision"]
    node.stop()
    assert len(out) == 1
    d = out[0].data
    assert d["index"] == y4 and d["label"] == str(y4)
    assert d["steps"] < 150 and d["confidence"] > 0.8 and d["policy"] == "dynamic_confidence"
    # Bins before the marker and after the decision are not simulated.
    assert node.counters["idle_bins"] == 40 + 300 - d["steps"]


def test_trial_cut_by_end_of_stream_still_decides(data):
    model, samples = data
    node = Infer(model=model, mode="trial", early_exit={"policy": "none", "max_steps": 300})
    node.start()
    out = feed(node, [("markers", marker("go"))] + _chunks(samples[1][0][:120], 40))["decision"]
    node.stop()
    assert len(out) == 1 and out[0].data["steps"] == 120


def test_bad_input_and_labels_are_named(data, tmp_path):
    model, samples = data
    node = Infer(model=model)
    node.start()
    with pytest.raises(ValueError, match=r"Frames of shape \(5, 34, 34\) do not fit the model input \(2, 34, 34\)"):
        node.receive("in", frames(np.zeros((5, 34, 34), np.float32), bin_us=1000))
    node.stop()
    with pytest.raises(ValueError, match="3 labels for a model with 10 outputs"):
        Infer(model=model, labels=["a", "b", "c"]).start()
    with pytest.raises(FileNotFoundError, match="missing.nir not found"):
        Infer(model=str(tmp_path / "missing.nir")).start()


def test_spikes_input_activity_trigger_and_output_spikes(data):
    """Spikes in (flat neurons), trials started by rising input activity, output spikes out."""
    model, samples = data
    x1, _ = samples[1]
    stream = np.concatenate([np.zeros((30, 2, 34, 34), np.float32), x1[:230]])
    flat = stream.reshape(len(stream), -1)
    active = flat.sum(1) >= 5
    first = int(np.argmax(active))
    # After the first 200-step trial, the next bin that is active after a quiet one.
    second = next(i for i in range(first + 201, len(stream)) if active[i] and not active[i - 1])
    node = Infer(model=model, convention="sinabs", mode="trial", trigger="activity", onset_events=5,
                 emit_spikes=True, early_exit={"policy": "none", "max_steps": 200})
    node.start()
    msgs = [spikes(flat[i:i + 50], step=i, dt_s=1e-3, t_origin=float(i)) for i in range(0, len(flat), 50)]
    out = feed(node, msgs)
    node.stop()
    steps = [d.data["steps"] for d in out["decision"]]
    assert steps == [200, len(stream) - second]
    rows = np.concatenate([m.data for m in out["out"]])
    assert rows.shape == (200 + steps[1], 10) and out["out"][0].meta["layer"] == "output"
    # Independent of the node: the network run from each onset.
    net = snn.load(model, convention="sinabs")
    ref1 = net.step(stream[first:first + 200])
    net.reset()
    ref2 = net.step(stream[second:])
    np.testing.assert_array_equal(rows, np.concatenate([ref1, ref2]))
    assert out["decision"][0].data["index"] == int(np.argmax(ref1.sum(0)))


def test_marker_arriving_mid_trial_leaves_the_running_trial_alone(data):
    """Markers travel apart from frames and often arrive early: one for a later trial that
    comes while a trial runs must not feed that trial the idle bins held before it."""
    model, samples = data
    x4, y4 = samples[4]
    policy = {"threshold": 0.8, "temperature": 15.0, "min_steps": 1, "max_steps": 300}
    quiet = np.zeros((40, 2, 34, 34), np.float32)
    node = Infer(model=model, convention="sinabs", mode="trial", early_exit=policy)
    node.start()
    msgs = [frames(quiet, bin_us=1000, t_first_us=0, t_origin=1.0),
            ("markers", marker("4", 4, time_s=0.040)),
            frames(x4[:5], bin_us=1000, t_first_us=40_000, t_origin=2.0),
            ("markers", marker("next", time_s=10.0)),
            frames(x4[5:], bin_us=1000, t_first_us=45_000, t_origin=3.0)]
    out = feed(node, msgs)["decision"]
    node.stop()
    ref = snn.load(model, convention="sinabs").classify(x4, early_exit=snn.DynamicConfidence(**policy))
    assert len(out) == 1 and ref.index == y4
    assert (out[0].data["index"], out[0].data["steps"]) == (ref.index, ref.steps)
    assert node.counters["idle_bins"] == 40 + 300 - ref.steps


def test_trial_markers_start_trials_other_markers_do_not(data):
    """EEG runs mark rest (T0) and file starts as well as task cues: only the cues listed in
    trial_markers start a trial, so no decision is made on rest."""
    model, samples = data
    x4, y4 = samples[4]
    policy = {"policy": "none", "max_steps": 300}
    node = Infer(model=model, convention="sinabs", mode="trial", trial_markers=["T1"], early_exit=policy)
    node.start()
    msgs = [("markers", marker("S001R04.edf", 0, time_s=0.0)),
            frames(x4, bin_us=1000, t_first_us=0, t_origin=1.0),
            ("markers", marker("T0", time_s=0.3)),
            ("markers", marker("T1", time_s=0.3)),
            frames(x4, bin_us=1000, t_first_us=300_000, t_origin=2.0)]
    out = feed(node, msgs)["decision"]
    node.stop()
    ref = snn.load(model, convention="sinabs").classify(x4, early_exit=snn.DynamicConfidence(max_steps=300))
    assert len(out) == 1 and (out[0].data["index"], out[0].data["steps"]) == (ref.index, 300)
    assert node.counters["ignored_markers"] == 2 and node.counters["idle_bins"] == 300


def test_delay_starts_the_trial_after_its_marker(data):
    model, samples = data
    x4, _ = samples[4]
    node = Infer(model=model, convention="sinabs", mode="trial", delay_s=0.1,
                 early_exit={"policy": "none", "max_steps": 300})
    node.start()
    msgs = [("markers", marker("T1", time_s=0.3)), frames(x4, bin_us=1000, t_first_us=300_000, t_origin=1.0)]
    out = feed(node, msgs)["decision"]  # decided at the end of the stream, 200 bins in
    node.stop()
    ref = snn.load(model, convention="sinabs").classify(x4[100:], early_exit=snn.DynamicConfidence(max_steps=300))
    assert len(out) == 1 and (out[0].data["index"], out[0].data["steps"]) == (ref.index, 200)
    assert node.counters["idle_bins"] == 100


@pytest.mark.parametrize("readout, temperature, threshold", [
    ("spikes_mean", 0.05, 0.9), ("membrane_mean", 0.2, 0.9), ("membrane", 0.05, 0.9)])
def test_every_readout_decides_in_the_node_as_offline(data, readout, temperature, threshold):
    """The node's Classifier and Network.classify apply the same rule for each readout."""
    model, samples = data
    rule = {"threshold": threshold, "temperature": temperature, "min_steps": 5, "max_steps": 300}
    node = Infer(model=model, convention="sinabs", readout=readout, early_exit=rule)
    node.start()
    stream = np.concatenate([samples[i][0] for i in (1, 2, 3, 4)])
    out = feed(node, _chunks(stream, 25))["decision"]
    node.stop()
    net = snn.load(model, convention="sinabs")
    policy = snn.DynamicConfidence(readout=readout, **rule)
    first = net.classify(samples[1][0], early_exit=policy)
    assert (out[0].data["index"], out[0].data["steps"]) == (first.index, first.steps)
    assert first.steps < 300 and len(out) >= 4  # it stopped early: samples went by faster
