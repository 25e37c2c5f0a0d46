"""signal.encode: chunked streaming equals straightforward reference encoders."""
import numpy as np
import pytest
import scipy.io

from nodes.signal.encode import Encode
from streamer import streams
from streamer.testing import run
from tests.conftest import need


def stream(x, sfreq, seed=0):
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 77))
        out.append(streams.samples(x[:, i:i + n], sfreq=sfreq, ch_names=[f"c{k}" for k in range(len(x))],
                                   first_sample=i))
        i += n
    return out


def delta_reference(x, th, step):
    """Send-on-delta written plainly, one sample at a time."""
    c_n, n = x.shape
    out = np.zeros((-(-n // step), 2 * c_n))
    for c in range(c_n):
        ref = float(x[c, 0])
        for i in range(n):
            while x[c, i] - ref >= th[c]:
                out[i // step, c] += 1
                ref += th[c]
            while x[c, i] - ref <= -th[c]:
                out[i // step, c_n + c] += 1
                ref -= th[c]
    return out


def test_delta_equals_reference_whatever_the_chunking(shared_data):
    m = scipy.io.loadmat(need(shared_data / "ieeg" / "Dog_1_ictal_segment_3.mat"))
    x = m["data"].astype(np.float32)[:, :400]
    th = [float(v) for v in 0.3 * x.std(axis=1)]
    want = delta_reference(x.astype(np.float64), th, 8)
    for seed in (0, 1):
        out = run(Encode(method="delta", threshold=th, step_ms=8 / 399.6097561 * 1e3), stream(x, 399.6097561, seed))["out"]
        got = np.concatenate([o.data for o in out])
        np.testing.assert_array_equal(got, want[:len(got)])
        assert len(got) == 400 // 8
        assert [o.meta["t_first_us"] for o in out][0] == 0


def test_threshold_crossings_at_minus_k_mad():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5000)).astype(np.float32)
    spikes_at = [700, 2500, 4100]
    x[1, spikes_at] = -12.0
    out = run(Encode(method="crossing", k=5.0, step_ms=10, calibration_s=1.0), stream(x, 1000.0))["out"]
    got = np.concatenate([o.data for o in out])
    level = -5.0 * np.median(np.abs(x[:, :1000] - np.median(x[:, :1000], axis=1, keepdims=True)), axis=1) / 0.6745
    below = x < level[:, None]
    onsets = below & ~np.concatenate([np.zeros((3, 1), bool), below[:, :-1]], axis=1)
    want = np.stack([onsets[:, k * 10:(k + 1) * 10].sum(axis=1) for k in range(500)])
    np.testing.assert_array_equal(got, want)
    assert got[:, 1].sum() >= 3 and all(got[s // 10, 1] >= 1 for s in spikes_at)


def test_rate_coding_is_seeded_and_follows_amplitude():
    x = np.vstack([np.full(20000, 1e-6), np.full(20000, 5e-6)]).astype(np.float32)
    a = np.concatenate([o.data for o in run(Encode(method="rate", gain=1e5, seed=3), stream(x, 1000.0))["out"]])
    b = np.concatenate([o.data for o in run(Encode(method="rate", gain=1e5, seed=3), stream(x, 1000.0))["out"]])
    np.testing.assert_array_equal(a, b)
    rates = a.sum(axis=0) / 20000
    assert rates[0] == pytest.approx(0.1, abs=0.02) and rates[1] == pytest.approx(0.5, abs=0.03)


def test_flat_channel_is_a_clear_error():
    x = np.zeros((2, 1000), np.float32)
    with pytest.raises(ValueError, match="flat channels"):
        run(Encode(method="delta", calibration_s=0.5), stream(x, 1000.0))


def test_rate_coding_does_not_depend_on_the_chunking():
    x = np.abs(np.random.default_rng(4).normal(scale=3e-6, size=(3, 3000))).astype(np.float32)
    runs = [np.concatenate([o.data for o in run(Encode(method="rate", seed=9, step_ms=5), stream(x, 1000.0, s))["out"]])
            for s in (0, 1)]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_spikes_output_carries_steps_and_names():
    rng = np.random.default_rng(6)
    x = np.cumsum(rng.normal(size=(2, 4000)), axis=1).astype(np.float32)
    node = Encode(method="delta", threshold=1.0, step_ms=10, output="spikes")
    assert Encode.ports(node.params)[1]["out"].stream == "Spikes"
    out = run(node, stream(x, 1000.0, 2))["out"]
    assert all(o.stream == "Spikes" and o.meta["layer"] == "input" and o.meta["dt_s"] == 0.01 for o in out)
    assert [o.meta["step"] for o in out] == list(np.cumsum([0] + [len(o.data) for o in out])[:-1])
    got = np.concatenate([o.data for o in out])
    np.testing.assert_array_equal(got, delta_reference(x.astype(np.float64), [1.0, 1.0], 10)[:len(got)])
    assert out[0].meta["ch_names"] == ["c0+", "c1+", "c0-", "c1-"]


def test_wrong_stream_is_named():
    with pytest.raises(ValueError, match="signal.encode takes a Samples stream.*got Events"):
        run(Encode(), [streams.events(streams.empty_events(3), width=4, height=4)])
