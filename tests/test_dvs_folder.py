"""dvs.file over a folder of labelled N-MNIST samples: one stream, samples on whole
milliseconds, a labelled Marker at each start."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.dvs.folder import list_samples
from drivers.dvs.nmnist import read_nmnist
from drivers.dvs.sources import FileCamera
from streamer.streams import EVENT_DTYPE
from streamer.testing import drain, run


def _write_bin(path, t_us: list[int], seed: int) -> np.ndarray:
    """An N-MNIST .bin (x, y, 1-bit polarity, 23-bit µs time in 5 bytes) of these times."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(len(t_us), EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = t_us, rng.integers(0, 34, len(t_us)), rng.integers(0, 34, len(t_us)), \
        rng.integers(0, 2, len(t_us))
    raw = np.empty((len(ev), 5), np.uint8)
    t = ev["t"].astype(np.int64)
    raw[:, 0], raw[:, 1] = ev["x"], ev["y"]
    raw[:, 2] = (ev["p"].astype(np.int64) << 7) | (t >> 16)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.tobytes())
    return ev


@pytest.fixture
def class_folders(tmp_path):
    """<digit>/<file>.bin, the layout of the N-MNIST distribution."""
    files = {"3/00001.bin": [5, 900, 12_345], "7/00002.bin": [0, 20_000, 20_001], "3/00010.bin": [7, 8, 250_500]}
    return tmp_path, {name: _write_bin(tmp_path / name, t, i) for i, (name, t) in enumerate(files.items())}


def test_class_folders_replay_in_file_order_with_label_markers(class_folders):
    root, written = class_folders
    out = run(FileCamera(path=str(root), speed=0, gap_us=5_000))
    marks = [m.data for m in out["markers"]]
    # file names order the samples, so the classes mix as in the distribution
    assert [(m["label"], m["value"], m["sample"]) for m in marks] == \
        [("3", 3, "3/00001.bin"), ("7", 7, "7/00002.bin"), ("3", 3, "3/00010.bin")]
    # each start (at the sample's first event): 5 ms after the previous last event, rounded
    # up to a whole millisecond
    starts = [0, 18_000, 44_000]
    assert [round(m["time_s"] * 1e6) for m in marks] == starts
    ev = np.concatenate([m.data for m in out["out"]])
    expected = np.concatenate([w for w in written.values()])
    firsts = [w["t"].min() for w in written.values()]  # 5, 0 and 7 µs after the files' zero
    expected["t"] += np.repeat(np.subtract(starts, firsts), [len(w) for w in written.values()])
    assert np.array_equal(ev, expected)
    assert (out["out"][0].meta["width"], out["out"][0].meta["height"]) == (34, 34)


def test_labels_file_limit_and_loop_keep_alignment(tmp_path):
    for i, t in ((1, [10, 2_000]), (2, [0, 3_500]), (3, [1, 2])):
        _write_bin(tmp_path / f"{i}.bin", t, i)
    (tmp_path / "labels.txt").write_text("#sample #class\n1\tcat\n2\tdog # a comment\n3\tcat\n")
    samples = list_samples(tmp_path)
    # labels that are not integers are indexed in sorted order
    assert [(s.path.name, s.label, s.index) for s in samples] == [("1.bin", "cat", 0), ("2.bin", "dog", 1),
                                                                 ("3.bin", "cat", 0)]
    cam = FileCamera(path=str(tmp_path), speed=0, limit=2, gap_us=0, loop=True, chunk_us=1_000)
    cam.start()
    marks = []
    while len(marks) < 6:
        marks += [m.data for m in drain(cam, max_messages=1).get("markers", [])]
    cam.stop()
    # 1.bin runs 10-2,000 µs, so from its first event it ends at 1,990: 2.bin starts at
    # 2,000, ends at 5,500: the next pass at 6,000
    assert [round(m["time_s"] * 1e6) for m in marks] == [0, 2_000, 6_000, 8_000, 12_000, 14_000]
    assert [m["sample"] for m in marks] == ["1.bin", "2.bin"] * 3


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no labelled N-MNIST samples.*labels.txt"):
        FileCamera(path=str(tmp_path)).start()
    (tmp_path / "labels.txt").write_text("1 5\n2 0\n")
    _write_bin(tmp_path / "1.bin", [1], 0)
    with pytest.raises(FileNotFoundError, match=r"labels.txt:2: sample 2 has no file .*2.bin"):
        list_samples(tmp_path)
    (tmp_path / "labels.txt").write_text("1 5 extra\n")
    with pytest.raises(ValueError, match=r"labels.txt:1: expected '<sample id> <label>'"):
        list_samples(tmp_path)
    with pytest.raises(FileNotFoundError, match="no event file or folder at"):
        FileCamera(path=str(tmp_path / "nowhere")).start()


def test_shared_samples_replay_unchanged(shared_data, tmp_path):
    """Real N-MNIST files, in the layout of the distribution, come out as read one by one."""
    src = shared_data / "nmnist"
    if not (src / "labels.txt").is_file():
        pytest.skip(f"N-MNIST samples not found at {src}")
    labels = dict(np.loadtxt(src / "labels.txt", dtype=np.int64))
    for i in (1, 2, 3):
        (tmp_path / str(labels[i])).mkdir(exist_ok=True)
        (tmp_path / str(labels[i]) / f"{i:05d}.bin").write_bytes((src / f"{i}.bin").read_bytes())
    out = run(FileCamera(path=str(tmp_path), speed=0))
    marks = [m.data for m in out["markers"]]
    assert [m["value"] for m in marks] == [labels[i] for i in (1, 2, 3)]
    ev = np.concatenate([m.data for m in out["out"]])
    for k, i in enumerate((1, 2, 3)):
        t0 = round(marks[k]["time_s"] * 1e6)
        t1 = round(marks[k + 1]["time_s"] * 1e6) if k < 2 else None
        part = ev[(ev["t"] >= t0) & ((ev["t"] < t1) if t1 else True)].copy()
        part["t"] -= t0
        ref = read_nmnist(src / f"{i}.bin")
        ref["t"] -= ref["t"].min()  # each sample starts at its first event
        assert np.array_equal(part, ref)
