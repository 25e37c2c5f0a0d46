"""signal.bandpower (Welch, filter-Hilbert) and signal.window on real ECoG, any chunking."""
import numpy as np
import pytest
import scipy.io
import scipy.signal
from hypothesis import HealthCheck, given, settings, strategies as st

from nodes.signal.bandpower import BandPower
from nodes.signal.windows import Window
from streamer import streams
from streamer.testing import run
from tests.conftest import need

BANDS = {"theta": (4.0, 8.0), "beta": (13.0, 30.0), "gamma": (30.0, 100.0)}


@pytest.fixture(scope="module")
def dog(shared_data):
    clips = [scipy.io.loadmat(need(shared_data / "ieeg" / f"Dog_1_ictal_segment_{k}.mat")) for k in range(1, 9)]
    return np.concatenate([c["data"] for c in clips], axis=1).astype(np.float32), float(clips[0]["freq"][0])


def chunked(x, sfreq, sizes, t_first_s=0.0):
    out, i, k = [], 0, 0
    names = [f"c{j:03d}" for j in range(len(x))]
    while i < x.shape[1]:
        n = sizes[k % len(sizes)]
        out.append(streams.samples(x[:, i:i + n], sfreq=sfreq, ch_names=names, first_sample=i,
                                   t_first_s=t_first_s + i / sfreq, ch_types=["ecog"] * len(x)))
        i, k = i + n, k + 1
    return out


def welch_bands(win, fs, nperseg):
    f, p = scipy.signal.welch(win.astype(np.float64), fs, nperseg=nperseg, axis=-1)
    return np.stack([p[:, (f >= lo) & (f <= hi)].mean(1) for lo, hi in BANDS.values()], axis=1)


chunk_sizes = st.lists(st.integers(1, 500), min_size=1, max_size=6)
few = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@few
@given(sizes=chunk_sizes, step_segments=st.sampled_from([1, 2, 3]))
def test_welch_per_segment_equals_scipy_welch_on_each_window(dog, sizes, step_segments):
    x, fs = dog
    nperseg = round(0.25 * fs)            # 100 samples, segments every 50
    window, step = 4 * nperseg, step_segments * (nperseg // 2)
    node = BandPower(bands=BANDS, window_ms=window / fs * 1e3, step_ms=step / fs * 1e3, segment_ms=250)
    out = run(node, chunked(x, fs, sizes))["out"]
    assert node.per_segment  # the spread-out path
    assert len(out) == (x.shape[1] - window) // step + 1
    for k in (0, len(out) // 2, len(out) - 1):
        s = out[k].meta["first_sample"]
        assert s == k * step
        np.testing.assert_allclose(out[k].data[0], welch_bands(x[:, s:s + window], fs, nperseg), rtol=2e-4)


def test_welch_when_windows_do_not_align_with_segments(dog):
    x, fs = dog
    out = run(BandPower(bands=BANDS, window_ms=1000, step_ms=130, segment_ms=250), chunked(x, fs, [33, 7]))["out"]
    window, step = round(fs), round(0.13 * fs)
    s = out[5].meta["first_sample"]
    assert s == 5 * step
    np.testing.assert_allclose(out[5].data[0], welch_bands(x[:, s:s + window], fs, round(0.25 * fs)), rtol=2e-4)


@few
@given(sizes=chunk_sizes)
def test_filter_hilbert_equals_sosfilt_then_hilbert(dog, sizes):
    x, fs = dog
    out = run(BandPower(bands=BANDS, method="hilbert", window_ms=500, step_ms=250, order=4),
              chunked(x, fs, sizes))["out"]
    window, step = round(0.5 * fs), round(0.25 * fs)
    filtered = [scipy.signal.sosfilt(scipy.signal.butter(4, band, "bandpass", fs=fs, output="sos"),
                                     x.astype(np.float64), axis=1) for band in BANDS.values()]
    for k in (1, len(out) - 1):
        s = k * step
        want = np.stack([(np.abs(scipy.signal.hilbert(f[:, s:s + window], axis=1)) ** 2).mean(1) for f in filtered],
                        axis=1)
        np.testing.assert_allclose(out[k].data[0], want, rtol=1e-3)
    # Ictal gamma is far above theta-normalised noise: the numbers are power, not noise.
    assert np.all(out[-1].data[0] > 0)


def test_band_without_bins_is_a_clear_error(dog):
    x, fs = dog
    with pytest.raises(ValueError, match=r"bands \['narrow'\] hold no frequency bin.*lengthen segment_ms"):
        run(BandPower(bands={"narrow": (10.1, 10.2)}, segment_ms=250), chunked(x, fs, [400]))
    with pytest.raises(ValueError, match="0 <= low < high"):
        BandPower(bands={"bad": (30, 10)})


def test_windows_as_samples_keep_the_channel_metadata(dog):
    x, fs = dog
    node = Window(window_ms=500, step_ms=100, output="samples")
    assert Window.ports(node.params)[1]["out"].stream == "Samples"
    out = run(node, chunked(x, fs, [17, 90], t_first_s=100.0))["out"]
    window, step = round(0.5 * fs), round(0.1 * fs)
    assert len(out) == (x.shape[1] - window) // step + 1
    w = out[9]
    np.testing.assert_array_equal(w.data, x[:, 9 * step:9 * step + window])
    assert w.meta["first_sample"] == 9 * step and w.meta["t_first_s"] == pytest.approx(100.0 + 9 * step / fs)
    assert w.meta["ch_types"] == ["ecog"] * 16 and w.stream == "Samples"
