"""eeg.brainflow with BrainFlow's own synthetic and playback-file boards."""
import time

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
from brainflow.data_filter import DataFilter

from drivers.eeg.brainflow_source import BrainFlowSource, board_id
from streamer import recording
from tests.runtime_helpers import run as run_graph, write_graph


def collect(node, seconds):
    node.start()
    got, markers = [], []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            out = node.produce()
            if out:
                got.append(out["out"])
                markers += out.get("markers", [])
    finally:
        node.stop()
    return got, markers


def test_synthetic_board_streams_named_channels_in_volts():
    got, _ = collect(BrainFlowSource(board="synthetic"), 1.0)
    n = sum(m.data.shape[1] for m in got)
    assert 150 < n < 350  # 250 Hz for about a second
    meta = got[0].meta
    assert meta["sfreq"] == 250.0 and meta["ch_names"][:4] == ["Fz", "C3", "Cz", "C4"]
    assert meta["ch_types"] == ["eeg"] * 16
    data = np.concatenate([m.data for m in got], axis=1)
    assert 1e-7 < np.std(data) < 1e-3  # microvolts turned into volts
    times = np.concatenate([m.arrays["times"] for m in got])
    assert np.all(np.diff(times) >= 0)
    assert [m.meta["first_sample"] for m in got] == list(np.cumsum([0] + [m.data.shape[1] for m in got])[:-1])


def test_playback_of_a_file_brainflow_wrote(tmp_path):
    # Record two seconds from the synthetic board with BrainFlow itself, with a marker.
    shim = BoardShim(BoardIds.SYNTHETIC_BOARD.value, BrainFlowInputParams())
    shim.prepare_session()
    shim.start_stream()
    time.sleep(1.0)
    time.sleep(1.0)
    shim.stop_stream()
    data = shim.get_board_data()
    shim.release_session()
    path = tmp_path / "session.csv"
    DataFilter.write_file(data, str(path), "w")
    written = DataFilter.read_file(str(path))
    got, markers = collect(BrainFlowSource(board="playback_file", file=str(path), master_board="synthetic",
                                           other_info=""), 2.5)
    played = np.concatenate([m.data for m in got], axis=1)
    eeg_rows = BoardShim.get_eeg_channels(BoardIds.SYNTHETIC_BOARD.value)
    n = min(played.shape[1], written.shape[1])
    assert n > 200
    np.testing.assert_allclose(played[:, :n], (written[eeg_rows, :n] * 1e-6).astype(np.float32), rtol=1e-6)
    # BrainFlow's playback board does not replay the marker row (markers come from
    # insert_marker only), so the live marker test is on the synthetic board below.


def test_markers_inserted_on_the_board_become_markers():
    node = BrainFlowSource(board="synthetic")
    node.start()
    markers, t0 = [], time.monotonic()
    try:
        node.shim.insert_marker(3.0)
        while time.monotonic() - t0 < 0.5:
            out = node.produce()
            if out:
                markers += out.get("markers", [])
    finally:
        node.stop()
    assert [(m.data["label"], m.data["value"]) for m in markers] == [("3", 3.0)]
    assert markers[0].data["time_s"] > 1e9  # BrainFlow's timestamp of the sample


def test_board_names_and_bad_boards():
    assert board_id("synthetic") == board_id("SYNTHETIC_BOARD") == BoardIds.SYNTHETIC_BOARD.value
    assert board_id("cyton") == BoardIds.CYTON_BOARD.value
    with pytest.raises(ValueError, match="did you mean 'synthetic'"):
        board_id("synthetc")
    with pytest.raises(ConnectionError, match="board 'cyton' on /dev/ttyNOPE"):
        BrainFlowSource(board="cyton", serial_port="/dev/ttyNOPE").start()
    with pytest.raises(ValueError, match="no emg channels|channels must be"):
        BrainFlowSource(board="synthetic", channels="nirs").start()


@pytest.mark.integration
def test_synthetic_board_in_a_graph_records(tmp_path):
    rec = tmp_path / "bf.rec"
    g = write_graph(tmp_path, f"""
nodes:
  amp: {{type: eeg.brainflow, board: synthetic}}
  rec: {{type: record, path: {rec}}}
edges: [amp -> rec.eeg]
""")
    code, figures, err = run_graph(g, "--duration", "3")
    assert code == 0, err
    eeg = recording.read(rec)["eeg"]
    assert eeg.data.shape[0] == 16 and eeg.data.shape[1] > 250
    assert figures["nodes"]["amp"]["out_items"] == eeg.data.shape[1]


def test_a_board_that_drops_out_is_reopened_and_counted():
    node = BrainFlowSource(board="synthetic", retries=2)
    node.start()
    before, after = 0, 0
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.4:
            out = node.produce()
            if out:
                before += out["out"].data.shape[1]
        node.shim.release_session()  # what BrainFlow reports when the device goes away
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            out = node.produce()
            if out:
                assert out["out"].meta["first_sample"] == before + after
                after += out["out"].data.shape[1]
    finally:
        node.stop()
    assert node.counters["reconnects"] == 1
    assert before > 50 and after > 100


def test_a_board_that_does_not_come_back_is_reported(tmp_path):
    shim = BoardShim(BoardIds.SYNTHETIC_BOARD.value, BrainFlowInputParams())
    shim.prepare_session()
    shim.start_stream()
    time.sleep(0.3)
    data = shim.get_board_data()
    shim.release_session()
    path = tmp_path / "short.csv"
    DataFilter.write_file(data, str(path), "w")
    node = BrainFlowSource(board="playback_file", file=str(path), master_board="synthetic", retries=1)
    node.start()
    try:
        node.shim.release_session()
        path.unlink()  # the recording is gone: reopening fails
        with pytest.raises(ConnectionError, match="playback_file.*did not come back after 1 attempts"):
            for _ in range(200):
                node.produce()
                time.sleep(0.01)
    finally:
        node.stop()
    assert node.counters["reconnects"] == 1
