"""signal.filter streams exactly like scipy.signal.sosfilt over the whole signal."""
import mne
import numpy as np
import pytest
import scipy.signal

from nodes.signal.filter import Filter
from streamer import streams
from streamer.testing import run
from tests.conftest import need


def chunks(data, sizes, sfreq):
    out, i = [], 0
    for n in sizes:
        if i >= data.shape[1]:
            break
        out.append(streams.samples(data[:, i:i + n], sfreq=sfreq, ch_names=[f"c{k}" for k in range(data.shape[0])]))
        i += n
    return out


@pytest.mark.parametrize("params", [
    dict(kind="bandpass", l_freq_hz=8, h_freq_hz=30, order=4),
    dict(kind="highpass", l_freq_hz=0.5, order=2),
    dict(kind="lowpass", h_freq_hz=40, order=6, ftype="cheby1"),
    dict(kind="notch", notch_hz=60, quality=20),
])
def test_streaming_equals_offline_on_real_eeg(shared_data, params):
    raw = mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")
    x = raw.get_data().astype(np.float32)
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 200, 1000)
    out = run(Filter(**params), chunks(x, sizes, 160.0))
    got = np.concatenate([m.data for m in out["out"]], axis=1)
    p = Filter.Params(**params)
    from nodes.signal.filter import design
    sos = design(p.kind, 160.0, p.l_freq_hz, p.h_freq_hz, p.order, p.notch_hz, p.quality, p.ftype)
    want = scipy.signal.sosfilt(sos, x.astype(np.float64), axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def test_on_intracranial_clips_whatever_the_chunking(shared_data):
    import scipy.io
    m = scipy.io.loadmat(need(shared_data / "ieeg" / "Dog_1_ictal_segment_2.mat"))
    x, fs = m["data"].astype(np.float32), float(m["freq"][0])
    want = None
    for sizes in ([400], [1] * 400, [7, 13, 100, 280]):
        out = run(Filter(kind="bandpass", l_freq_hz=1, h_freq_hz=70), chunks(x, sizes, fs))
        got = np.concatenate([o.data for o in out["out"]], axis=1)
        want = got if want is None else want
        np.testing.assert_array_equal(got, want)  # bit-identical whatever the chunk sizes


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="must be below h_freq_hz"):
        Filter(kind="bandpass", l_freq_hz=30, h_freq_hz=8)
    f = Filter(kind="lowpass", h_freq_hz=100)
    f.start()
    with pytest.raises(ValueError, match="Nyquist of 160.0 Hz"):
        f.receive("in", streams.samples(np.zeros((2, 10)), sfreq=160.0, ch_names=["a", "b"]))


def test_nan_sample_is_counted_and_does_not_poison_the_channel():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 600)).astype(np.float32)
    x[1, 100] = np.nan
    node = Filter(kind="highpass", l_freq_hz=1.0, order=2)
    out = run(node, chunks(x, [37] * 20, 100.0))
    got = np.concatenate([o.data for o in out["out"]], axis=1)
    sos = scipy.signal.butter(2, 1.0, "highpass", fs=100.0, output="sos")
    np.testing.assert_allclose(got[0], scipy.signal.sosfilt(sos, x[0].astype(np.float64)), rtol=1e-5, atol=1e-6)
    # The bad sample comes out as NaN; the rest as if it had been 0.
    as_zero = scipy.signal.sosfilt(sos, np.nan_to_num(x[1]).astype(np.float64))
    assert np.isnan(got[1, 100]) and np.isfinite(np.delete(got[1], 100)).all()
    np.testing.assert_allclose(np.delete(got[1], 100), np.delete(as_zero, 100), rtol=1e-5, atol=1e-6)
    assert node.counters["nonfinite_samples"] == 1


def test_wrong_stream_is_named():
    with pytest.raises(ValueError, match="signal.filter takes a Samples stream.*got Frames"):
        run(Filter(), [streams.frames(np.zeros((1, 2, 3)), bin_us=1000)])
    bad = streams.samples(np.zeros((1, 4)), sfreq=100.0, ch_names=["a"])
    bad.meta["sfreq"] = 0
    with pytest.raises(ValueError, match="no valid sfreq"):
        run(Filter(), [bad])
