"""Samples <-> MNE conversion, checked against MNE's own objects."""
import mne
import numpy as np
import pytest

from drivers.eeg.file_source import FileSource
from drivers.eeg.mne_convert import from_raw, to_info, to_raw
from drivers.eeg.synthetic import SyntheticEEG
from streamer import streams
from streamer.testing import run
from tests.conftest import need


def _raw(tmp_path=None):
    rng = np.random.default_rng(0)
    info = mne.create_info(["LA1", "LA2", "G1", "ECG"], 1000.0, ["seeg", "seeg", "ecog", "ecg"])
    return mne.io.RawArray(rng.normal(scale=5e-5, size=(4, 3000)), info, verbose="error")


def test_info_keeps_names_rate_and_types():
    info = to_info({"sfreq": 512.0, "ch_names": ["LA1", "G1", "STI"], "ch_types": ["seeg", "ecog", "stim"]})
    assert info["sfreq"] == 512.0 and info["ch_names"] == ["LA1", "G1", "STI"]
    assert info.get_channel_types() == ["seeg", "ecog", "stim"]
    with pytest.raises(ValueError, match=r"not known to MNE: \[\('G1', 'grid'\)\]"):
        to_info({"sfreq": 512.0, "ch_names": ["G1"], "ch_types": ["grid"]})
    with pytest.raises(ValueError, match="positive sampling rate"):
        to_info({"sfreq": 0.0, "ch_names": ["a"], "ch_types": ["eeg"]})


def test_from_raw_chunks_back_to_the_same_raw():
    raw = _raw()
    chunks = [from_raw(raw, a, min(a + 700, raw.n_times)) for a in range(0, raw.n_times, 700)]
    assert chunks[1].meta["first_sample"] == 700 and chunks[1].meta["t_first_s"] == 0.7
    assert chunks[0].meta["ch_types"] == ["seeg", "seeg", "ecog", "ecg"]
    marker = streams.marker("stim", 1234, sample=1234, duration=0.25)
    back = to_raw(chunks, [marker])
    np.testing.assert_array_equal(back.get_data(), raw.get_data().astype(np.float32))
    assert back.get_channel_types() == raw.get_channel_types()
    events, ids = mne.events_from_annotations(back, verbose="error")
    assert events[:, 0].tolist() == [1234] and list(ids) == ["stim"]
    assert back.annotations.duration[0] == 0.25
    picked = from_raw(raw, 10, 20, picks=["G1"])
    np.testing.assert_array_equal(picked.data, raw.get_data(picks=["G1"], start=10, stop=20).astype(np.float32))
    with pytest.raises(ValueError, match=r"channels \['X'\] not found"):
        from_raw(raw, picks=["X"])
    with pytest.raises(ValueError, match="outside the recording"):
        from_raw(raw, 0, 5000)


def test_gaps_and_channel_changes_are_refused():
    raw = _raw()
    a, b = from_raw(raw, 0, 100), from_raw(raw, 150, 200)
    with pytest.raises(ValueError, match="expected sample 100, got 150"):
        to_raw([a, b])
    with pytest.raises(ValueError, match="no Samples"):
        to_raw([])


def test_replayed_edf_round_trips_with_its_events(shared_data):
    path = need(shared_data / "eeg" / "S001R04.edf")
    out = run(FileSource(path=str(path), speed=0, chunk_ms=500))
    back = to_raw(out["out"], out["markers"])
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    np.testing.assert_array_equal(back.get_data(), raw.get_data().astype(np.float32))
    got, got_ids = mne.events_from_annotations(back, verbose="error")
    ref, ref_ids = mne.events_from_annotations(raw, verbose="error")
    assert got_ids == ref_ids
    np.testing.assert_array_equal(got, ref)


def test_synthetic_cues_become_mne_events():
    out = run(SyntheticEEG(speed=0, n_trials=4, trial_s=1, rest_s=0.5, classes=["left", "right"]))
    raw = to_raw(out["out"], out["markers"])
    events, ids = mne.events_from_annotations(raw, verbose="error")
    assert events[:, 0].tolist() == [125 + k * 375 for k in range(4)]
    assert [m.data["label"] for m in out["markers"]] == [{v: k for k, v in ids.items()}[c] for c in events[:, 2]]
