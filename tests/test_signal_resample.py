"""signal.resample streams exactly what resample_poly computes over the whole signal."""
import mne
import numpy as np
import pytest
import scipy.io
import scipy.signal
from hypothesis import HealthCheck, given, settings, strategies as st

from nodes.signal.resample import Resample
from streamer import streams
from streamer.testing import run
from tests.conftest import need


def stream(x, sfreq, seed):
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 120))
        out.append(streams.samples(x[:, i:i + n], sfreq=sfreq, ch_names=[f"c{k}" for k in range(len(x))],
                                   first_sample=i))
        i += n
    return out


@pytest.mark.parametrize("up, down, sfreq_hz", [(1, 2, None), (3, 2, None), (2, 5, None), (1, 1, 128.0)])
def test_equals_resample_poly_on_real_eeg(shared_data, up, down, sfreq_hz):
    raw = mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")
    x = raw.get_data(picks=[0, 10, 20]).astype(np.float32)[:, :4000]
    params = {"sfreq_hz": sfreq_hz} if sfreq_hz else {"up": up, "down": down}
    if sfreq_hz:
        up, down = 4, 5  # 160 Hz -> 128 Hz
    for seed in (0, 1):
        out = run(Resample(**params), stream(x, 160.0, seed))["out"]
        got = np.concatenate([m.data for m in out], axis=1)
        want = scipy.signal.resample_poly(x.astype(np.float64), up, down, axis=1)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
        assert out[0].meta["sfreq"] == pytest.approx(160.0 * up / down)
        firsts = [m.meta["first_sample"] for m in out]
        assert firsts == list(np.cumsum([0] + [m.data.shape[1] for m in out])[:-1])


def test_outputs_leave_before_the_end():
    x = np.random.default_rng(0).normal(size=(1, 1000)).astype(np.float32)
    node = Resample(up=1, down=2)
    node.start()
    early = [node.receive("in", m) for m in stream(x, 100.0, 3)]
    n_early = sum(m.data.shape[1] for m in early if m is not None)
    assert n_early >= 500 - 15  # only the filter's delay waits for the end


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 400), min_size=1, max_size=6), ratio=st.sampled_from([(1, 2), (2, 3), (5, 4)]))
def test_intracranial_clip_any_chunking_equals_resample_poly(shared_data, sizes, ratio):
    m = scipy.io.loadmat(need(shared_data / "ieeg" / "Dog_1_interictal_segment_7.mat"))
    x, fs = m["data"].astype(np.float32), float(m["freq"][0])
    up, down = ratio
    msgs, i, k = [], 0, 0
    while i < x.shape[1]:
        n = sizes[k % len(sizes)]
        msgs.append(streams.samples(x[:, i:i + n], sfreq=fs, ch_names=[f"c{j}" for j in range(16)],
                                    first_sample=i, t_first_s=50.0 + i / fs))
        i, k = i + n, k + 1
    out = run(Resample(up=up, down=down), msgs)["out"]
    got = np.concatenate([o.data for o in out], axis=1)
    want = scipy.signal.resample_poly(x.astype(np.float64), up, down, axis=1)
    assert got.shape == want.shape  # the edges too: nothing missing, nothing extra
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    last = out[-1]
    assert last.meta["t_first_s"] == pytest.approx(50.0 + last.meta["first_sample"] * down / (up * fs))


def test_a_changed_stream_is_refused():
    node = Resample(up=1, down=2)
    node.start()
    node.receive("in", streams.samples(np.zeros((2, 10)), sfreq=100.0, ch_names=["a", "b"]))
    with pytest.raises(ValueError, match="changed from 2 channels at 100.0 Hz to 3"):
        node.receive("in", streams.samples(np.zeros((3, 10)), sfreq=100.0, ch_names=["a", "b", "c"]))
