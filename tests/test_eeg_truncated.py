"""Truncated and corrupt recordings: eeg.file refuses a recording shorter than its header
declares (MNE would replay half of an EDF in silence), names the declared and present
lengths, replays what is there with `allow_truncated`; `streamer check` reports it; a
MATLAB clip that crashes scipy's reader is an error, not a dead process."""
import logging
import subprocess
import sys

import mne
import numpy as np
import pytest
import scipy.io

from drivers.eeg.file_source import FileSource
from drivers.eeg.readers import RecordingError, open_recording
from streamer.graph import GraphError, parse_graph
from streamer.testing import run
from tests.conftest import need
from tests.runtime_helpers import ROOT


def cut_in_half(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[:len(data) // 2])
    return dst


@pytest.fixture
def half_edf(shared_data, tmp_path):
    return cut_in_half(need(shared_data / "eeg" / "S001R04.edf"), tmp_path / "S001R04.edf")


def test_truncated_edf_is_refused_with_both_lengths(half_edf):
    node = FileSource(path=str(half_edf), speed=0)
    with pytest.raises(RecordingError) as err:
        node.start()
    msg = str(err.value)
    assert str(half_edf) in msg and "truncated" in msg and "allow_truncated" in msg, msg
    # 125 records of 1 s declared; the first half of the bytes holds 62 whole records
    assert "declares 125 s (20000 samples)" in msg and "holds 62 s (9920 samples)" in msg, msg


def test_allow_truncated_replays_what_is_there_and_warns(half_edf, shared_data, caplog):
    with caplog.at_level(logging.WARNING):
        out = run(FileSource(path=str(half_edf), speed=0, allow_truncated=True, chunk_ms=250))
    data = np.concatenate([m.data for m in out["out"]], axis=1)
    whole = mne.io.read_raw_edf(shared_data / "eeg" / "S001R04.edf", preload=True, verbose="error")
    np.testing.assert_array_equal(data, whole.get_data(stop=9920).astype(np.float32))
    assert any("62-125 s missing" in r.getMessage() and str(half_edf) in r.getMessage() for r in caplog.records)


def test_truncated_bdf(shared_data, tmp_path):
    cut = cut_in_half(need(shared_data / "eeg" / "multiple_annotation_chans.bdf"), tmp_path / "x.bdf")
    with pytest.raises(RecordingError, match=r"declares 247 s \(30875 samples\).*holds 122 s"):
        open_recording(cut)


def test_eeglab_with_a_cut_fdt(shared_data, tmp_path):
    """MNE opens it with the declared length and fails only when the replay reaches the cut."""
    (tmp_path / "test_raw.set").write_bytes(need(shared_data / "eeg" / "test_raw.set").read_bytes())
    cut_in_half(need(shared_data / "eeg" / "test_raw.fdt"), tmp_path / "test_raw.fdt")
    path = tmp_path / "test_raw.set"
    with pytest.raises(RecordingError, match=r"declares 238.312 s \(30504 samples\).*test_raw.fdt"):
        open_recording(path)
    out = run(FileSource(path=str(path), speed=0, allow_truncated=True, chunk_ms=500))
    data = np.concatenate([m.data for m in out["out"]], axis=1)
    whole = mne.io.read_raw(shared_data / "eeg" / "test_raw.set", preload=True, verbose="error")
    assert data.shape == (32, 15252)  # 1952256 bytes / (32 channels x 4 bytes)
    np.testing.assert_array_equal(data, whole.get_data(stop=15252).astype(np.float32))


def test_cut_fif_from_mne_warning(shared_data, tmp_path):
    raw = mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")
    full = tmp_path / "full_raw.fif"
    raw.save(full, verbose="error")
    cut = cut_in_half(full, tmp_path / "cut_raw.fif")
    with pytest.raises(RecordingError, match="truncated.*Invalid tag"):
        open_recording(cut)
    rec = open_recording(cut, allow_truncated=True)
    assert 0 < rec.n_samples < raw.n_times
    np.testing.assert_allclose(rec.read(0, rec.n_samples), raw.get_data(stop=rec.n_samples), rtol=1e-6)


@pytest.mark.integration  # a child Python process or a graph
def test_check_reports_a_truncated_recording(half_edf):
    text = f"nodes:\n  eeg: {{type: eeg.file, path: '{half_edf}'}}\n"
    with pytest.raises(GraphError) as err:
        parse_graph(text, "g.yaml")
    assert any("declares 125 s" in str(p) and "node 'eeg'" in str(p) for p in err.value.problems)
    parse_graph(text.replace("}", ", allow_truncated: true}"), "g.yaml")  # allowed: no problem
    graph = half_edf.parent / "g.yaml"
    graph.write_text(text)
    out = subprocess.run([sys.executable, "-m", "streamer", "check", str(graph)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "truncated" in out.stdout + out.stderr


@pytest.mark.integration  # a child Python process or a graph
def test_a_mat_clip_that_crashes_scipy_is_an_error(shared_data, tmp_path):
    src = need(shared_data / "ieeg" / "Dog_1_ictal_segment_1.mat")
    data = bytearray(src.read_bytes())
    data[145:149] = b"\xff\xff\xff\x7f"  # a size field of the `data` matrix: scipy reads out of bounds
    bad = tmp_path / "Dog_1_ictal_segment_1.mat"
    bad.write_bytes(bytes(data))
    # in a process of its own, scipy dies of it
    crash = subprocess.run([sys.executable, "-c", f"import scipy.io; scipy.io.loadmat({str(bad)!r})"],
                           capture_output=True, timeout=60)
    assert crash.returncode < 0
    node = FileSource(path=str(bad), speed=0)
    with pytest.raises(RecordingError, match=rf"{bad}: the reader crashed \(SIGSEGV\)"):
        node.start()
    # the intact clip still reads as scipy reads it (a fresh helper)
    rec = open_recording(src)
    np.testing.assert_array_equal(rec.read(0, rec.n_samples), scipy.io.loadmat(src)["data"] * 1e-6)
