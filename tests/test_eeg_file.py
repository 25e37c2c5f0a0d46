"""eeg.file against MNE's own readers, on real recordings and on files written here."""
import time

import mne
import numpy as np
import pytest
import scipy.io

from drivers.eeg.file_source import FileSource
from drivers.eeg.readers import RecordingError
from streamer.testing import drain, run
from tests.conftest import need


def replay(path, **kw):
    out = run(FileSource(path=str(path), speed=0, **kw))
    data = np.concatenate([m.data for m in out["out"]], axis=1)
    return out, data


def test_edf_samples_and_every_annotation_at_its_sample(shared_data):
    path = need(shared_data / "eeg" / "S001R04.edf")
    out, data = replay(path, chunk_ms=37)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    np.testing.assert_array_equal(data, raw.get_data().astype(np.float32))
    events, ids = mne.events_from_annotations(raw, verbose="error")
    names = {v: k for k, v in ids.items()}
    got = [(m.data["value"], m.data["label"]) for m in out["markers"]]
    assert got == [(int(s), names[c]) for s, _, c in events]
    assert {lab for _, lab in got} == {"T0", "T1", "T2"}
    meta = out["out"][0].meta
    assert meta["sfreq"] == 160.0 and meta["ch_names"] == raw.ch_names and set(meta["ch_types"]) == {"eeg"}


@pytest.mark.parametrize("name", ["multiple_annotation_chans.bdf", "test_raw.set"])
def test_bdf_and_eeglab(shared_data, name):
    path = need(shared_data / "eeg" / name)
    out, data = replay(path, chunk_ms=250)
    raw = mne.io.read_raw(path, preload=True, verbose="error")
    np.testing.assert_array_equal(data, raw.get_data().astype(np.float32))
    assert len(out["markers"]) == len([a for a in raw.annotations
                                       if a["onset"] * raw.info["sfreq"] >= -0.5])


def test_persyst_keeps_ecog_types_and_seizure_annotations(shared_data):
    path = need(shared_data / "ieeg" / "sub-pt1_ses-02_task-monitor_acq-ecog_run-01_clip2.lay")
    out, data = replay(path)
    raw = mne.io.read_raw_persyst(path, preload=True, verbose="error")
    np.testing.assert_array_equal(data, raw.get_data().astype(np.float32))
    assert out["out"][0].meta["ch_types"] == raw.get_channel_types()
    assert [m.data["label"] for m in out["markers"]] == list(raw.annotations.description)


def test_matlab_clip(shared_data):
    path = need(shared_data / "ieeg" / "Dog_1_ictal_segment_1.mat")
    out, data = replay(path, chunk_ms=100)
    m = scipy.io.loadmat(path)
    np.testing.assert_allclose(data, (m["data"] * 1e-6).astype(np.float32), rtol=1e-6)
    meta = out["out"][0].meta
    assert meta["sfreq"] == pytest.approx(float(m["freq"][0]))
    assert meta["ch_names"][0] == "NVC0905_22_002_Ecog_c001" and meta["ch_types"][0] == "ecog"


def test_a_fif_written_here_with_seeg_and_annotations(tmp_path):
    rng = np.random.default_rng(3)
    info = mne.create_info(["LA1", "LA2", "LA3", "EMG"], 512.0, ["seeg", "seeg", "seeg", "emg"])
    raw = mne.io.RawArray(rng.normal(scale=1e-4, size=(4, 5000)), info, verbose="error")
    raw.set_annotations(mne.Annotations([0.5, 3.25, 9.0], [0.1, 0.0, 0.5], ["stim", "seizure", "stim"]))
    path = tmp_path / "x_raw.fif"
    raw.save(path, verbose="error")
    out, data = replay(path, chunk_ms=20, picks=["LA2", "EMG"])
    np.testing.assert_array_equal(data, raw.get_data(picks=["LA2", "EMG"]).astype(np.float32))
    assert out["out"][0].meta["ch_types"] == ["seeg", "emg"]
    assert [(m.data["label"], m.data["value"]) for m in out["markers"]] == [
        ("stim", 256), ("seizure", 1664), ("stim", 4608)]


def test_real_time_and_faster(shared_data):
    path = need(shared_data / "eeg" / "S001R04.edf")
    for speed, seconds in ((1.0, 0.5), (4.0, 0.125)):
        node = FileSource(path=str(path), speed=speed, chunk_ms=50)
        node.start()
        t0 = time.monotonic()
        n = 0
        while n < 80:  # 0.5 s of signal
            out = node.produce()
            if out:
                n += out["out"].data.shape[1]
        elapsed = time.monotonic() - t0
        # The chunk holding sample 79 leaves when sample 79 is due (nearly at once for the first).
        assert seconds * 0.7 < elapsed + 8 / 160 / speed < seconds * 1.3, (speed, elapsed)


def test_bad_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such recording"):
        FileSource(path=str(tmp_path / "none.edf")).start()
    (tmp_path / "x.xyz").write_text("hello")
    with pytest.raises(RecordingError, match="unsupported file type"):
        FileSource(path=str(tmp_path / "x.xyz")).start()
    (tmp_path / "bad.edf").write_bytes(b"0" * 300)
    with pytest.raises(RecordingError, match="MNE cannot read it"):
        FileSource(path=str(tmp_path / "bad.edf")).start()
    scipy.io.savemat(tmp_path / "nofreq.mat", {"data": np.zeros((2, 10))})
    with pytest.raises(RecordingError, match="no sampling rate"):
        FileSource(path=str(tmp_path / "nofreq.mat")).start()
    info = mne.create_info(["a", "b"], 100.0, "eeg")
    mne.io.RawArray(np.zeros((2, 100)), info, verbose="error").save(tmp_path / "y_raw.fif", verbose="error")
    with pytest.raises(ValueError, match=r"channels \['c'\] not found; it has a, b"):
        FileSource(path=str(tmp_path / "y_raw.fif"), picks=["c"]).start()


def test_nan_samples_are_counted_not_hidden(tmp_path):
    data = np.random.default_rng(1).normal(scale=1e-5, size=(3, 1000))
    data[1, 100:110] = np.nan
    data[2, 905] = np.nan
    info = mne.create_info(["a", "b", "c"], 250.0, "eeg")
    mne.io.RawArray(data, info, verbose="error").save(tmp_path / "gap_raw.fif", verbose="error")
    node = FileSource(path=str(tmp_path / "gap_raw.fif"), speed=0, chunk_ms=200)
    out = run(node)
    got = np.concatenate([m.data for m in out["out"]], axis=1)
    assert node.counters["nan_samples"] == 11 == int(np.isnan(got).sum())
    np.testing.assert_array_equal(np.isnan(got), np.isnan(data))


@pytest.mark.parametrize("ext, writer", [(".edf", "edfio"), (".vhdr", "pybv")])
def test_exported_edf_and_brainvision_replay_as_mne_reads_them(tmp_path, ext, writer):
    pytest.importorskip(writer, reason=f"{writer} writes {ext} files for mne.export")
    rng = np.random.default_rng(7)
    info = mne.create_info(["Fp1", "C3", "C4", "O1"], 256.0, "eeg")
    raw = mne.io.RawArray(rng.normal(scale=3e-5, size=(4, 256 * 6)), info, verbose="error")
    raw.set_annotations(mne.Annotations([0.5, 2.0, 4.25], [0.0, 1.0, 0.0], ["cue", "imagery", "cue"]))
    path = tmp_path / f"exported{ext}"
    mne.export.export_raw(path, raw, verbose="error")
    out, data = replay(path, chunk_ms=100)
    back = mne.io.read_raw(path, preload=True, verbose="error")
    np.testing.assert_array_equal(data, back.get_data().astype(np.float32))
    np.testing.assert_allclose(data, raw.get_data(), atol=1e-8)  # the writer's resolution
    events, ids = mne.events_from_annotations(back, verbose="error")
    names = {v: k for k, v in ids.items()}
    got = [(m.data["sample"], m.data["label"]) for m in out["markers"]]
    assert got == [(s, names[c]) for s, _, c in events]
    # BrainVision files name them Comment/<text>
    assert [(s, lab.split("/")[-1]) for s, lab in got] == [(128, "cue"), (512, "imagery"), (1088, "cue")]


def test_loop_keeps_counting_samples_and_repeats_markers(tmp_path):
    info = mne.create_info(["a"], 100.0, "eeg")
    raw = mne.io.RawArray(np.arange(250.0)[None] * 1e-6, info, verbose="error")
    raw.set_annotations(mne.Annotations([0.3], [0.0], ["go"]))
    raw.save(tmp_path / "l_raw.fif", verbose="error")
    node = FileSource(path=str(tmp_path / "l_raw.fif"), speed=0, chunk_ms=100, loop=True)
    node.start()
    out = drain(node, max_messages=60)  # 3 passes or so
    node.stop()
    firsts = [m.meta["first_sample"] for m in out["out"]]
    assert firsts == list(range(0, 10 * len(firsts), 10)) and len(firsts) > 50
    data = np.concatenate([m.data for m in out["out"]], axis=1)
    np.testing.assert_array_equal(data[0, :250], (np.arange(250.0) * 1e-6).astype(np.float32))
    np.testing.assert_array_equal(data[0, 250:], data[0, :data.shape[1] - 250])
    assert [m.data["sample"] for m in out["markers"]][:2] == [30, 280]
    assert [m.data["time_s"] for m in out["markers"]][:2] == [0.3, 2.8]


def test_a_cropped_fif_places_annotations_relative_to_its_first_sample(tmp_path):
    info = mne.create_info(["a", "b"], 200.0, "ecog")
    raw = mne.io.RawArray(np.random.default_rng(2).normal(size=(2, 2000)) * 1e-5, info, verbose="error")
    raw.set_meas_date(1_700_000_000)
    raw.set_annotations(mne.Annotations([1.0, 4.5, 7.25], [0.0, 0.0, 0.0], ["x", "y", "z"],
                                        orig_time=raw.info["meas_date"]))
    raw.crop(tmin=3.0).save(tmp_path / "c_raw.fif", verbose="error")
    back = mne.io.read_raw_fif(tmp_path / "c_raw.fif", verbose="error")
    assert back.first_samp == 600
    out, data = replay(tmp_path / "c_raw.fif", chunk_ms=50)
    events, ids = mne.events_from_annotations(back, verbose="error")
    assert [m.data["sample"] for m in out["markers"]] == list(events[:, 0] - back.first_samp) == [300, 850]
    assert [m.data["label"] for m in out["markers"]] == ["y", "z"]
    assert out["out"][0].meta["ch_types"] == ["ecog", "ecog"]
