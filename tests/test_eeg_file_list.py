"""eeg.file replaying several files as one stream: order, sample indices, annotations,
file-name labels, seeded shuffling, and errors that name the file."""
import mne
import numpy as np
import pytest
import scipy.io

from drivers.eeg.file_list import expand
from drivers.eeg.file_source import FileSource
from drivers.eeg.readers import RecordingError
from streamer.testing import run
from tests.conftest import need


def write_fif(path, data, sfreq=100.0, names=("a", "b"), annotations=()):
    raw = mne.io.RawArray(data, mne.create_info(list(names), sfreq, "eeg"), verbose="error")
    if annotations:
        onsets, labels = zip(*annotations)
        raw.set_annotations(mne.Annotations(list(onsets), [0.0] * len(onsets), list(labels)))
    raw.save(path, verbose="error")
    return path


def write_clip(path, data, freq=400.0):
    scipy.io.savemat(path, {"data": data, "freq": np.array([[freq]])})
    return path


def test_a_list_is_one_stream_with_indices_counting_and_annotations_shifted(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 250)) * 1e-5, rng.normal(size=(2, 130)) * 1e-5
    files = [write_fif(tmp_path / "one_raw.fif", a, annotations=[(0.5, "x")]),
             write_fif(tmp_path / "two_raw.fif", b, annotations=[(0.2, "y"), (1.0, "x")])]
    out = run(FileSource(path=[str(f) for f in files], speed=0, chunk_ms=1000, file_label=r"^(\w+?)_"))
    chunks = out["out"]
    np.testing.assert_array_equal(np.concatenate([m.data for m in chunks], axis=1),
                                  np.concatenate([a, b], axis=1).astype(np.float32))
    # no chunk spans two files: the first file ends on a short chunk
    assert [m.meta["first_sample"] for m in chunks] == [0, 100, 200, 250, 350]
    assert [m.meta["source"] for m in chunks] == ["one_raw.fif"] * 3 + ["two_raw.fif"] * 2
    assert [m.meta["t_first_s"] for m in chunks][3] == 2.5
    got = [(m.data["label"], m.data["sample"], m.data.get("file")) for m in out["markers"]]
    assert got == [("one", 0, "one_raw.fif"), ("x", 50, None), ("two", 250, "two_raw.fif"), ("y", 270, None),
                   ("x", 350, None)]
    assert out["markers"][2].data["duration"] == pytest.approx(1.3)


def test_glob_in_natural_order_labels_from_names_and_a_seeded_shuffle_per_pattern(tmp_path):
    for kind, numbers in (("interictal", (1, 2, 10)), ("ictal", (3, 20))):
        for n in numbers:
            write_clip(tmp_path / f"Dog_9_{kind}_segment_{n}.mat", np.full((2, 40), float(n)))
    patterns = [str(tmp_path / "Dog_9_interictal_segment_*.mat"), str(tmp_path / "Dog_9_ictal_segment_*.mat")]
    assert [f.name for f in expand(patterns)] == [
        "Dog_9_interictal_segment_1.mat", "Dog_9_interictal_segment_2.mat", "Dog_9_interictal_segment_10.mat",
        "Dog_9_ictal_segment_3.mat", "Dog_9_ictal_segment_20.mat"]
    shuffled = [f.name for f in expand(patterns, shuffle_seed=4)]
    assert shuffled == [f.name for f in expand(patterns, shuffle_seed=4)]
    assert {n for n in shuffled[:3]} == {f"Dog_9_interictal_segment_{n}.mat" for n in (1, 2, 10)}
    assert [[f.name for f in expand(patterns, shuffle_seed=s)] for s in range(6)].count(shuffled) < 6
    out = run(FileSource(path=patterns, speed=0, shuffle_seed=4, file_label="_(ictal|interictal)_"))
    labels = [(m.data["label"], m.data["file"], m.data["sample"]) for m in out["markers"]]
    assert labels == [(f.split("_")[2], f, 40 * i) for i, f in enumerate(shuffled)]
    # each clip's samples (its number, in µV) follow its marker
    values = np.concatenate([m.data for m in out["out"]], axis=1)[0, ::40]
    assert list(np.round(values * 1e6)) == [int(f.rsplit("_", 1)[1][:-4]) for f in shuffled]


def test_the_dog_clips_replay_with_their_labels(shared_data):
    need(shared_data / "ieeg" / "Dog_1_ictal_segment_1.mat")
    out = run(FileSource(path=str(shared_data / "ieeg" / "Dog_1_*ictal_segment_[1-3].mat"), speed=0,
                         file_label="_(ictal|interictal)_"))
    assert [m.data["label"] for m in out["markers"]] == ["ictal"] * 3 + ["interictal"] * 3
    assert [m.data["sample"] for m in out["markers"]] == [400 * i for i in range(6)]
    assert sum(m.data.shape[1] for m in out["out"]) == 2400


def test_files_that_do_not_fit_together_are_named(tmp_path):
    write_fif(tmp_path / "a_raw.fif", np.zeros((2, 100)))
    write_fif(tmp_path / "b_raw.fif", np.zeros((2, 100)), sfreq=200.0)
    write_fif(tmp_path / "c_raw.fif", np.zeros((2, 100)), names=("a", "z"))
    for other, why in (("b_raw.fif", r"b_raw.fif: sampling rate 200.0 Hz differs from 100.0 Hz of a_raw.fif"),
                       ("c_raw.fif", r"c_raw.fif: channels differ from those of a_raw.fif; give `picks`")):
        with pytest.raises(RecordingError, match=why):
            run(FileSource(path=[str(tmp_path / "a_raw.fif"), str(tmp_path / other)], speed=0))
    out = run(FileSource(path=[str(tmp_path / "a_raw.fif"), str(tmp_path / "c_raw.fif")], speed=0, picks=["a"]))
    assert sum(m.data.shape[1] for m in out["out"]) == 200
    with pytest.raises(FileNotFoundError, match=r"\*.edf: no file matches this pattern"):
        FileSource(path=[str(tmp_path / "*.edf")]).start()
    with pytest.raises(FileNotFoundError, match="no such recording: .*gone_raw.fif"):
        FileSource(path=[str(tmp_path / "a_raw.fif"), str(tmp_path / "gone_raw.fif")]).start()
    with pytest.raises(ValueError, match=r"b_raw.fif: its name does not match file_label '\^a'"):
        FileSource(path=str(tmp_path / "[ab]_raw.fif"), file_label="^a").start()
    with pytest.raises(ValueError, match="path is an empty list"):
        FileSource(path=[]).start()
