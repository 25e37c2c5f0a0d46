"""The plain signal functions (nodes.signal.functional) give what their nodes send, on
real recordings (PhysioNet EEGMMIDB, canine ECoG): one call over the whole signal equals
the node fed in chunks, the state objects fed chunk by chunk equal one call, and no input
is changed."""
from __future__ import annotations

import numpy as np
import pytest

import nodes.signal.functional as F
from nodes.signal.artifacts import Artifacts
from nodes.signal.bandpower import BandPower
from nodes.signal.channels import Pick, Reref
from nodes.signal.encode import Encode
from nodes.signal.filter import Filter
from nodes.signal.project import Project
from nodes.signal.resample import Resample
from nodes.signal.windows import Epochs, Window
from streamer import streams
from streamer.testing import run
from tests.conftest import need
from tests.test_signal_reref import chunked

SIZES = (37, 160, 1, 333, 512)  # uneven chunks, one of a single sample


@pytest.fixture(scope="module")
def eeg(shared_data):
    """(x (16, 40 s) float32, sfreq, names, marker samples, marker labels) of EEGMMIDB run 4."""
    mne = pytest.importorskip("mne")
    raw = mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")
    sfreq = raw.info["sfreq"]
    n = int(40 * sfreq)
    x = raw.get_data()[:16, :n].astype(np.float32)
    x.setflags(write=False)  # any function writing into its input fails
    onsets = np.round(raw.annotations.onset * sfreq).astype(np.int64)
    keep = onsets < n
    return x, sfreq, raw.ch_names[:16], onsets[keep], list(np.asarray(raw.annotations.description)[keep])


@pytest.fixture(scope="module")
def ecog(shared_data):
    scipy_io = pytest.importorskip("scipy.io")
    m = scipy_io.loadmat(need(shared_data / "ieeg" / "Dog_1_ictal_segment_3.mat"))
    x = np.ascontiguousarray(m["data"], dtype=np.float32)
    x.setflags(write=False)
    return x, float(np.ravel(m["freq"])[0])


def _chunks(x, sfreq, names, types=None):
    """Samples messages of x cut at SIZES, repeated until x is used up."""
    return chunked(x, sfreq, names, types, SIZES)


def _cut(x):
    i, k = 0, 0
    while i < x.shape[1]:
        n = SIZES[k % len(SIZES)] * 3
        yield i, x[:, i:i + n]
        i, k = i + n, k + 1


def _run(node, x, sfreq, names, types=None, port="out"):
    return run(node, _chunks(x, sfreq, names, types)).get(port, [])


def _samples_out(node, x, sfreq, names, types=None):
    return np.concatenate([m.data for m in _run(node, x, sfreq, names, types)], axis=1)


def _frames_out(node, x, sfreq, names, types=None):
    return np.concatenate([m.data for m in _run(node, x, sfreq, names, types)], axis=0)


FILTERS = [{"kind": "bandpass", "l_freq_hz": 8.0, "h_freq_hz": 30.0},
           {"kind": "notch", "notch_hz": 50.0, "quality": 20.0},
           {"kind": "highpass", "l_freq_hz": 1.0, "order": 2, "ftype": "cheby1"}]


@pytest.mark.parametrize("params", FILTERS, ids=lambda p: p["kind"])
def test_filter_data_equals_the_node_and_the_state_in_chunks(eeg, params):
    x, sfreq, names, _, _ = eeg
    y = F.filter_data(x, sfreq=sfreq, **params)
    np.testing.assert_array_equal(y, _samples_out(Filter(**params), x, sfreq, names))
    state = F.FilterState(sfreq=sfreq, **params)
    np.testing.assert_array_equal(np.concatenate([state(c) for _, c in _cut(x)], axis=1), y)
    assert y.dtype == np.float32 and y.shape == x.shape and not np.allclose(y, x)


@pytest.mark.parametrize("params", [{"sfreq_hz": 100.0}, {"up": 3, "down": 2}])
def test_resample_equals_the_node_and_scipy(eeg, params):
    import scipy.signal

    x, sfreq, names, _, _ = eeg
    y = F.resample(x, sfreq=sfreq, **params)
    np.testing.assert_array_equal(y, _samples_out(Resample(**params), x, sfreq, names))
    state = F.ResampleState(sfreq=sfreq, **params)
    parts = [state(c) for _, c in _cut(x)] + [state.flush()]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), y)
    up, down = (5, 8) if "sfreq_hz" in params else (3, 2)
    want = scipy.signal.resample_poly(x.astype(np.float64), up, down, axis=1)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


BANDPOWER = [{"window_ms": 1000, "step_ms": 250, "segment_ms": 500},     # whole segments: each transformed once
             {"window_ms": 1000, "step_ms": 300, "segment_ms": 400},     # windows that do not align with them
             {"method": "hilbert", "window_ms": 500, "step_ms": 100, "order": 3, "log": True}]


@pytest.mark.parametrize("params", BANDPOWER, ids=["welch_segments", "welch_windows", "hilbert"])
def test_bandpower_equals_the_node_and_the_state_in_chunks(eeg, params):
    x, sfreq, names, _, _ = eeg
    bands = {"mu": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}
    p = F.bandpower(x, sfreq=sfreq, bands=bands, **params)
    np.testing.assert_array_equal(p, _frames_out(BandPower(bands=bands, **params), x, sfreq, names))
    step = round(params["step_ms"] * 1e-3 * sfreq)
    window = round(params["window_ms"] * 1e-3 * sfreq)
    assert p.shape == ((x.shape[1] - window) // step + 1, x.shape[0], 3) and p.dtype == np.float32
    state = F.BandPowerState(sfreq=sfreq, n_channels=x.shape[0], bands=bands, **params)
    got = [state(c) for _, c in _cut(x)]
    np.testing.assert_array_equal(np.concatenate([s for s, _ in got]), np.arange(len(p)) * step)
    np.testing.assert_array_equal(np.concatenate([pw for _, pw in got]), p)


def test_windows_and_epochs_equal_their_nodes(eeg):
    x, sfreq, names, onsets, labels = eeg
    w = F.windows(x, sfreq=sfreq, window_ms=500, step_ms=125)
    np.testing.assert_array_equal(w, _frames_out(Window(window_ms=500, step_ms=125), x, sfreq, names))
    assert w.shape == ((x.shape[1] - 80) // 20 + 1, x.shape[0], 80)

    data, selection = F.epochs(x, onsets, sfreq=sfreq, tmin_s=-0.5, tmax_s=2.0)
    markers = [("markers", streams.marker(lab, sample=int(s))) for s, lab in zip(onsets, labels)]
    out = run(Epochs(tmin_s=-0.5, tmax_s=2.0), markers + _chunks(x, sfreq, names))["out"]
    np.testing.assert_array_equal(np.concatenate([m.data for m in out]), data)
    assert [m.meta["label"] for m in out] == [labels[i] for i in selection]
    assert 0 < len(selection) < len(onsets)  # the first marker (at 0 s) has no signal before it


def test_pick_and_reref_equal_their_nodes(eeg):
    x, sfreq, names, _, _ = eeg
    types = ["eeg"] * 12 + ["misc"] * 4
    picked, picked_names = F.pick(x, ch_names=names, ch_types=types, names=[names[5], names[2], names[14]],
                                  types=["eeg"])
    out = _run(Pick(names=[names[5], names[2], names[14]], types=["eeg"]), x, sfreq, names, types)
    np.testing.assert_array_equal(picked, np.concatenate([m.data for m in out], axis=1))
    assert picked_names == out[0].meta["ch_names"] == [names[5], names[2]]

    for params in ({"method": "average", "bads": [names[0]]},
                   {"method": "bipolar", "pairs": [(names[0], names[1]), (names[8], names[9])]},
                   {"method": "laplacian", "montage": "colin27_1005", "n_neighbours": 4}):
        y, y_names = F.reref(x, ch_names=names, ch_types=types, **params)
        out = _run(Reref(**params), x, sfreq, names, types)
        np.testing.assert_array_equal(y, np.concatenate([m.data for m in out], axis=1))
        assert y_names == out[0].meta["ch_names"]
        assert not np.allclose(y[:2], x[:2])


def _in_order(rows):
    """Rows sorted (a chunk's rows come channel by channel, so the order depends on the chunking)."""
    return rows[np.lexsort(rows.T[::-1])]


def _marker_rows(markers, names):
    return np.array([[names.index(m.data["channel"]), F.KINDS.index(m.data["value"]), m.data["start_sample"],
                      -1 if m.data["label"] == "artifact" else m.data["sample"]] for m in markers], np.int64)


def test_artifacts_equal_the_nodes_markers(eeg):
    x, sfreq, names, _, _ = eeg
    x = x.copy()
    x[3, 1000:1100] = x[3, 1000]         # flat for 0.6 s
    x[7, 2000:2003] = np.nan
    x[9, 3000:3050] = 5e-3                # 5 mV: beyond the amplifier's clip level
    params = {"flat_ms": 200.0, "clip_level": 4e-3, "amplitude": 150e-6}
    rows = F.artifacts(x, sfreq=sfreq, **params)
    node_rows = _marker_rows(_run(Artifacts(**params), x, sfreq, names, port="markers"), names)
    assert len(rows) == len(node_rows)
    np.testing.assert_array_equal(_in_order(rows), _in_order(node_rows))
    assert np.all(np.diff(rows[:, 0]) >= 0)  # one call: channel by channel
    kinds = {(int(c), F.KINDS[k]) for c, k, _, _ in rows}
    assert {(3, "flat"), (7, "nonfinite"), (9, "clipped")} <= kinds
    state = F.ArtifactState(sfreq=sfreq, n_channels=x.shape[0], **params)
    np.testing.assert_array_equal(_in_order(np.concatenate([state(c, i) for i, c in _cut(x)])), _in_order(rows))


def test_encode_equals_the_node_and_the_state_in_chunks(eeg, ecog):
    x, sfreq, names, _, _ = eeg
    e, efreq = ecog
    cases = [(x, sfreq, {"method": "delta", "step_ms": 25, "calibration_s": 3.0}),
             (x, sfreq, {"method": "delta", "threshold": 2e-5, "step_ms": 10}),
             (e, efreq, {"method": "crossing", "k": 3.0, "step_ms": 10, "calibration_s": 0.3}),
             (x * 2e4, sfreq, {"method": "rate", "gain": 1.0, "seed": 5, "step_ms": 50})]
    for data, fs, params in cases:
        counts = F.encode(data, sfreq=fs, **params)
        ch = [f"c{i}" for i in range(len(data))]
        np.testing.assert_array_equal(counts, _frames_out(Encode(**params), data, fs, ch))
        state = F.EncodeState(sfreq=fs, **params)
        parts = [state(c, i)[0] for i, c in _cut(data)]
        np.testing.assert_array_equal(np.concatenate([p for p in parts if len(p)]), counts)
        step = max(1, round(params["step_ms"] * 1e-3 * fs))
        assert counts.shape == (data.shape[1] // step, (2 if params["method"] == "delta" else 1) * len(data))
        assert counts.sum() > 0, params


def test_project_equals_the_node(eeg):
    x, sfreq, names, _, _ = eeg
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(3, 4)).tolist()
    channels = [names[9], names[1], names[4], names[12]]
    y = F.project(x, ch_names=names, matrix=matrix, channels=channels)
    np.testing.assert_array_equal(y, _samples_out(Project(matrix=matrix, channels=channels), x, sfreq, names))
    np.testing.assert_allclose(y, np.asarray(matrix) @ x[[9, 1, 4, 12]].astype(np.float64), rtol=1e-5, atol=1e-9)


def test_functions_say_what_to_pass():
    with pytest.raises(TypeError, match=r"2-D numeric array \(channels, samples\)"):
        F.filter_data(np.zeros(100), sfreq=100.0)
    with pytest.raises(ValueError, match="between 0 and 50.0 Hz"):
        F.filter_data(np.zeros((1, 100)), sfreq=100.0, kind="lowpass", h_freq_hz=80.0)
    with pytest.raises(ValueError, match="channels .* not in the stream"):
        F.pick(np.zeros((2, 4)), ch_names=["a", "b"], names=["c"])
    with pytest.raises(ValueError, match="flat channels"):
        F.encode(np.zeros((2, 400)), sfreq=100.0, calibration_s=1.0)
    with pytest.raises(ValueError, match="either filters"):
        F.project(np.zeros((2, 4)))
