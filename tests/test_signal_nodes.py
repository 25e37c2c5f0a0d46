"""Channel selection, re-referencing, windows, band power and epochs against MNE/SciPy."""
import mne
import numpy as np
import pytest
import scipy.signal

from drivers.eeg.file_source import FileSource
from nodes.signal.channels import Pick, Reref, shaft_pairs
from nodes.signal.bandpower import BandPower
from nodes.signal.windows import Epochs, Window
from streamer import streams
from streamer.testing import feed, run
from tests.conftest import need


def chunked(x, sfreq, names, types=None, seed=0):
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 90))
        out.append(streams.samples(x[:, i:i + n], sfreq=sfreq, ch_names=names, ch_types=types, first_sample=i))
        i += n
    return out


@pytest.fixture(scope="module")
def edf(shared_data):
    raw = mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")
    return raw


def cat(msgs):
    return np.concatenate([m.data for m in msgs], axis=1)


def test_average_reference_equals_mne(edf):
    x = edf.get_data().astype(np.float32)
    out = run(Reref(method="average", bads=["Fp1."]), chunked(x, 160.0, edf.ch_names))
    ref = edf.copy()
    ref.info["bads"] = ["Fp1."]
    ref.set_eeg_reference("average", verbose="error")
    # MNE leaves bad channels unreferenced; we re-reference them against the good mean.
    good = [i for i, n in enumerate(edf.ch_names) if n != "Fp1."]
    np.testing.assert_allclose(cat(out["out"])[good], ref.get_data()[good], atol=1e-9)


def test_bipolar_along_shafts_equals_mne():
    rng = np.random.default_rng(1)
    names = ["LA1", "LA2", "LA3", "RH1", "RH2", "EKG"]
    x = rng.normal(scale=1e-4, size=(6, 1000)).astype(np.float32)
    pairs = shaft_pairs(names)
    assert pairs == [("LA1", "LA2"), ("LA2", "LA3"), ("RH1", "RH2")]
    out = run(Reref(method="bipolar"), chunked(x, 500.0, names, ["seeg"] * 5 + ["ecg"]))
    raw = mne.io.RawArray(x.astype(np.float64), mne.create_info(names, 500.0, ["seeg"] * 5 + ["ecg"]), verbose="error")
    bip = mne.set_bipolar_reference(raw, [a for a, _ in pairs], [b for _, b in pairs], drop_refs=False,
                                    verbose="error")
    want = bip.get_data(picks=[f"{a}-{b}" for a, b in pairs])
    np.testing.assert_allclose(cat(out["out"]), want, atol=1e-9)
    assert out["out"][0].meta["ch_names"] == ["LA1-LA2", "LA2-LA3", "RH1-RH2"]


def test_pick_by_name_and_type_with_clear_errors():
    msg = streams.samples(np.arange(12).reshape(3, 4), sfreq=10, ch_names=["a", "b", "c"],
                          ch_types=["eeg", "stim", "eeg"])
    out = feed(Pick(names=["c", "a"]), [msg])["out"][0]
    assert out.meta["ch_names"] == ["c", "a"] and out.data[0, 0] == 8
    assert feed(Pick(types=["eeg"]), [msg])["out"][0].meta["ch_names"] == ["a", "c"]
    with pytest.raises(ValueError, match=r"channels \['z'\] not in the stream; it has a, b, c"):
        feed(Pick(names=["z"]), [msg])


def test_windows_and_band_power_equal_welch(edf):
    x = edf.get_data(picks=["C3..", "C4.."]).astype(np.float32)
    msgs = chunked(x, 160.0, ["C3", "C4"])
    wins = run(Window(window_ms=1000, step_ms=250), msgs)["out"]
    assert len(wins) == (x.shape[1] - 160) // 40 + 1
    np.testing.assert_array_equal(wins[3].data[0], x[:, 120:280])
    bp = run(BandPower(bands={"mu": (8, 13), "beta": (13, 30)}, window_ms=1000, step_ms=250, segment_ms=500),
             chunked(x, 160.0, ["C3", "C4"], seed=4))["out"]
    f, p = scipy.signal.welch(x[:, 40 * 7:40 * 7 + 160], 160.0, nperseg=80, axis=-1)
    want = np.stack([p[:, (f >= 8) & (f <= 13)].mean(1), p[:, (f >= 13) & (f <= 30)].mean(1)], axis=1)
    np.testing.assert_allclose(bp[7].data[0], want, rtol=1e-4)


def test_epochs_locked_to_the_annotations(edf, shared_data):
    path = shared_data / "eeg" / "S001R04.edf"
    src = run(FileSource(path=str(path), speed=0, chunk_ms=100))
    # Interleave markers with signal as they arrive: each marker right after its chunk.
    items = [("in", m) for m in src["out"]]
    by_sample = sorted(src["markers"], key=lambda m: m.data["sample"])
    merged, j = [], 0
    for port, m in items:
        merged.append((port, m))
        end = m.meta["first_sample"] + m.data.shape[1]
        while j < len(by_sample) and by_sample[j].data["sample"] < end:
            merged.append(("markers", by_sample[j]))
            j += 1
    node = Epochs(tmin_s=0.0, tmax_s=4.0, labels=["T1", "T2"])
    node.start()
    out = feed(node, merged)["out"]
    events, ids = mne.events_from_annotations(edf, event_id={"T1": 2, "T2": 3}, verbose="error")
    ep = mne.Epochs(edf, events, ids, tmin=0, tmax=4.0 - 1 / 160, baseline=None, preload=True, verbose="error")
    assert [o.meta["label"] for o in out] == ["T1" if c == 2 else "T2" for c in events[:, 2]][:len(out)]
    assert len(out) == len(ep)
    np.testing.assert_allclose(np.stack([o.data[0] for o in out]), ep.get_data().astype(np.float32), rtol=1e-6)
