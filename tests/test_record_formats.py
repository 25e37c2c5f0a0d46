"""Standard formats from native recordings, read back by their own readers: XDF (pyxdf),
BIDS (mne_bids.read_raw_bids), FIF and EDF (MNE), AEDAT4 (dv-processing), EVT 3.0 (ours,
checked against OpenEB's rules elsewhere); channels, samples, events and metadata."""
from __future__ import annotations

import json

import numpy as np
import pytest

from streamer import formats, recording, streams
from streamer.recording import Writer

pyxdf = pytest.importorskip("pyxdf", reason="pyxdf reads XDF back (pip install pyxdf)")
mne_bids = pytest.importorskip("mne_bids", reason="mne-bids writes and reads BIDS (pip install mne-bids)")

NAMES = ["C3", "Cz", "C4"]
SFREQ = 160.0


def eeg_recording(path, ch_types=("eeg",) * 3, skip_chunk=None, n_chunks=20, seed=1):
    """20 chunks of 16 samples (µV-sized volts), markers every fifth chunk, a decision."""
    rng = np.random.default_rng(seed)
    w = Writer(path)
    sent = []
    for i in range(n_chunks):
        data = (rng.normal(size=(3, 16)) * 2e-5).astype(np.float32)
        t_origin = 1000.0 + i * 0.1
        msg = streams.samples(data, sfreq=SFREQ, ch_names=NAMES, ch_types=list(ch_types),
                              units=["V"] * 3, t_first_s=i * 16 / SFREQ, first_sample=i * 16, t_origin=t_origin)
        sent.append(msg)
        if i != skip_chunk:
            w.write("eeg", msg, t_origin + 0.001)
        if i % 5 == 1:
            w.write("markers", streams.marker(f"T{i % 3}", i, time_s=(i * 16 + 3) / SFREQ, t_origin=t_origin),
                    t_origin + 0.001)
    w.write("decision", streams.decision(1, "right", [0.2, 0.8], 0.8, 10, t_origin=t_origin), t_origin + 0.002)
    w.close()
    return sent


def test_xdf_holds_every_stream_with_device_times_and_clock_offsets(tmp_path):
    src = tmp_path / "run.rec"
    sent = eeg_recording(src)
    out = formats.convert(src, "xdf", info={"subject": "07"})
    assert out == tmp_path / "run.xdf"
    data, header = pyxdf.load_xdf(out, synchronize_clocks=False, dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in data}
    assert set(by_name) == {"eeg", "markers", "decision"}
    assert header["info"]["subject"] == ["07"]
    eeg = by_name["eeg"]
    np.testing.assert_array_equal(eeg["time_series"].T, np.concatenate([m.data for m in sent], axis=1))
    np.testing.assert_allclose(eeg["time_stamps"], np.arange(320) / SFREQ, atol=1e-12)
    chans = eeg["info"]["desc"][0]["channels"][0]["channel"]
    assert [c["label"][0] for c in chans] == NAMES and {c["type"][0] for c in chans} == {"EEG"}
    assert float(eeg["info"]["nominal_srate"][0]) == SFREQ and eeg["info"]["type"] == ["EEG"]
    # host clock minus device clock when the chunk's newest sample arrived: 1000 s here
    offsets = eeg["footer"]["info"]["clock_offsets"][0]["offset"]
    assert offsets and all(abs(float(o["value"][0]) - (1000.0 - 15 / SFREQ)) < 1e-9 for o in offsets)
    mk = by_name["markers"]
    assert [row[0] for row in mk["time_series"]] == ["T1", "T0", "T2", "T1"]
    np.testing.assert_allclose(mk["time_stamps"], [(i * 16 + 3) / SFREQ for i in (1, 6, 11, 16)])
    assert json.loads(by_name["decision"]["time_series"][0][0])["label"] == "right"
    # synchronised, the markers move with the samples onto the host clock
    data, _ = pyxdf.load_xdf(out, synchronize_clocks=True, dejitter_timestamps=False)
    synced = {s["info"]["name"][0]: s for s in data}
    assert abs(synced["eeg"]["time_stamps"][0] - (1000.0 - 15 / SFREQ)) < 1e-6
    gap = synced["markers"]["time_stamps"][0] - synced["eeg"]["time_stamps"][19]
    assert abs(gap) < 1e-6  # marker 1 at sample 19: the markers share the samples' clock offsets


def test_xdf_of_events_and_boundary_chunks(tmp_path):
    src = tmp_path / "cam.rec"
    w = Writer(src)
    rng = np.random.default_rng(2)
    chunks = []
    for i in range(30):  # 30 chunks 1 s apart in host time: boundary chunks every 10 s
        ev = np.zeros(100, streams.EVENT_DTYPE)
        ev["t"] = np.sort(rng.integers(i * 10_000, (i + 1) * 10_000, 100))
        ev["x"], ev["y"], ev["p"] = rng.integers(0, 320, 100), rng.integers(0, 240, 100), rng.integers(0, 2, 100)
        chunks.append(ev)
        w.write("events", streams.events(ev, width=320, height=240, t_origin=50.0 + i), 50.0 + i)
    w.close()
    out = formats.convert(src, "xdf")
    raw = out.read_bytes()
    assert raw.count(formats_boundary()) == 3
    data, _ = pyxdf.load_xdf(out, synchronize_clocks=False, dejitter_timestamps=False)
    (ev,) = data
    allev = recording.concat(chunks)
    assert ev["time_series"].dtype == np.int64
    np.testing.assert_array_equal(ev["time_series"], np.stack([allev["x"], allev["y"], allev["p"], allev["t"]], 1))
    np.testing.assert_allclose(ev["time_stamps"], allev["t"] * 1e-6)
    assert ev["info"]["desc"][0]["width"] == ["320"]


def formats_boundary() -> bytes:
    from streamer.xdf import BOUNDARY
    return BOUNDARY


@pytest.mark.parametrize("ch_type, datatype", [("eeg", "eeg"), ("seeg", "ieeg")])
def test_bids_round_trip_through_read_raw_bids(tmp_path, ch_type, datatype):
    src = tmp_path / "run.rec"
    sent = eeg_recording(src, ch_types=(ch_type,) * 3)
    info = {"subject": "01", "session": "02", "task": "motorimagery", "run": 3, "line_freq_hz": 50}
    out = formats.convert(src, "bids", tmp_path / "bids", info=info)
    assert out.name == f"sub-01_ses-02_task-motorimagery_run-3_{datatype}.vhdr"
    path = mne_bids.BIDSPath(root=tmp_path / "bids", subject="01", session="02", task="motorimagery", run=3,
                             datatype=datatype)
    raw = mne_bids.read_raw_bids(path, verbose="error")
    assert raw.ch_names == NAMES and set(raw.get_channel_types()) == {ch_type}
    assert raw.info["sfreq"] == SFREQ and raw.info["line_freq"] == 50
    expect = np.concatenate([m.data for m in sent], axis=1).astype(np.float64)
    # BrainVision float32 in µV: within float32 rounding of the volts recorded
    np.testing.assert_allclose(raw.get_data(), expect, rtol=2e-7, atol=1e-13)
    ann = raw.annotations
    assert list(ann.description) == ["T1", "T0", "T2", "T1"]
    np.testing.assert_allclose(ann.onset, [(i * 16 + 3) / SFREQ for i in (1, 6, 11, 16)], atol=0.5 / SFREQ)
    events = (tmp_path / "bids" / "sub-01" / "ses-02" / datatype / out.name.replace(f"_{datatype}.vhdr", "_events.tsv"))
    rows = [line.split("\t") for line in events.read_text().splitlines()]
    col = rows[0].index("sample")
    assert [int(r[col]) for r in rows[1:]] == [19, 99, 179, 259]
    sidecar = json.loads(path.copy().update(suffix=datatype, extension=".json").fpath.read_text())
    assert sidecar["TaskName"] == "motorimagery" and sidecar["SamplingFrequency"] == SFREQ
    assert sidecar["PowerLineFrequency"] == 50
    kept = tmp_path / "bids" / "sourcedata" / "sub-01" / "ses-02" / "sub-01_ses-02_task-motorimagery_run-3.streamer-rec"
    assert kept.read_bytes() == src.read_bytes()


def test_a_gap_in_the_samples_is_filled_and_annotated(tmp_path):
    src = tmp_path / "gap.rec"
    sent = eeg_recording(src, skip_chunk=7)
    raw = pytest.importorskip("drivers.eeg.mne_export").raw_from_recording(src)
    assert raw.n_times == 320  # every later sample keeps its time
    np.testing.assert_array_equal(raw.get_data()[:, 112:128], 0)
    np.testing.assert_allclose(raw.get_data()[:, 128:144], sent[8].data, rtol=1e-7)
    gaps = [(a["onset"], a["duration"]) for a in raw.annotations if a["description"] == "BAD_ACQ_SKIP"]
    assert gaps == [(pytest.approx(112 / SFREQ), pytest.approx(16 / SFREQ))]


def test_fif_is_exact_and_edf_within_its_resolution(tmp_path):
    import mne

    src = tmp_path / "run.rec"
    sent = eeg_recording(src)
    expect = np.concatenate([m.data for m in sent], axis=1)
    fif = mne.io.read_raw_fif(formats.convert(src, "fif"), preload=True, verbose="error")
    np.testing.assert_array_equal(fif.get_data().astype(np.float32), expect)
    assert list(fif.annotations.description) == ["T1", "T0", "T2", "T1"]
    edf = mne.io.read_raw_edf(formats.convert(src, "edf"), preload=True, verbose="error")
    step = (expect.max() - expect.min()) / 65535  # 16 bits over the range
    assert np.abs(edf.get_data() - expect).max() <= 2 * step
    assert list(edf.annotations.description) == ["T1", "T0", "T2", "T1"]


def test_aedat4_and_evt3_read_back_by_their_readers(tmp_path):
    import dv_processing as dv

    from drivers.dvs import open_events

    src = tmp_path / "cam.rec"
    rng = np.random.default_rng(3)
    ev = np.zeros(5000, streams.EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(1000, 2_000_000, 5000))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 346, 5000), rng.integers(0, 260, 5000), rng.integers(0, 2, 5000)
    w = Writer(src)
    for part in np.array_split(ev, 7):
        w.write("dvs", streams.events(part, width=346, height=260, t_origin=1.0), 1.0)
    w.write("markers", streams.marker("start", 0, time_s=0.001), 1.0)
    w.close()
    reader = dv.io.MonoCameraRecording(str(formats.convert(src, "aedat4")))
    assert reader.getEventResolution() == (346, 260)
    got = []
    while (batch := reader.getNextEventBatch()) is not None:
        got.append(batch.numpy())
    got = np.concatenate(got)
    np.testing.assert_array_equal(got["timestamp"], ev["t"])
    np.testing.assert_array_equal(got["x"], ev["x"])
    np.testing.assert_array_equal(got["y"], ev["y"])
    np.testing.assert_array_equal(got["polarity"], ev["p"])
    r = open_events(formats.convert(src, "evt3"))
    assert (r.format, r.width, r.height) == ("EVT3", 346, 260)
    assert np.array_equal(r.read(), ev)


def test_bad_requests_say_what_to_do(tmp_path):
    src = tmp_path / "run.rec"
    eeg_recording(src)
    with pytest.raises(ValueError, match="BIDS needs subject and task"):
        formats.convert(src, "bids", tmp_path / "b")
    with pytest.raises(ValueError, match="letters and digits"):
        formats.convert(src, "bids", tmp_path / "b", info={"subject": "sub-01", "task": "mi"})
    with pytest.raises(ValueError, match="one stream of type Events; the recording holds none"):
        formats.convert(src, "evt3")
    with pytest.raises(ValueError, match="no stream 'eg'"):
        formats.convert(src, "fif", stream="eg")
    with pytest.raises(formats.ConversionError, match="unknown format 'mat'"):
        formats.convert(src, "mat")
    with pytest.raises(formats.ConversionError, match="no such recording"):
        formats.convert(tmp_path / "none.rec", "xdf")


def test_record_format_needs_its_bids_entities():
    from pydantic import ValidationError

    from streamer.record_nodes import Record

    with pytest.raises(ValidationError, match="format bids needs"):
        Record(path="x.rec", format="bids")
    with pytest.raises(ValidationError, match="subject"):
        Record(path="x.rec", format="bids", bids={"root": "b", "task": "mi"})


GRAPH = """
name: formats
nodes:
  eeg: {{type: eeg.file, path: "{edf}", speed: 0, chunk_ms: 100}}
  bids:
    type: record
    path: "{tmp}/run1.rec"
    format: bids
    bids: {{root: "{tmp}/bids", subject: "01", session: "01", task: "imagery", run: 1}}
  xdf: {{type: record, path: "{tmp}/all.rec", format: xdf}}
edges:
  - eeg -> bids.eeg
  - eeg.markers -> bids.markers
  - eeg -> xdf.eeg
  - eeg.markers -> xdf.markers
"""


@pytest.mark.integration
@pytest.mark.data
def test_a_graph_records_eegmmidb_as_bids_and_xdf_equal_to_the_source(tmp_path, shared_data):
    """eeg.file replays a real EEGMMIDB run through real processes; the recorders convert
    when the run ends; what mne-bids and pyxdf read equals the EDF within float32 rounding,
    with every annotation at its sample."""
    import mne

    from tests.conftest import need
    from tests.runtime_helpers import run, write_graph

    edf = need(shared_data / "eeg" / "S001R04.edf")
    code, _, err = run(write_graph(tmp_path, GRAPH.format(edf=edf, tmp=tmp_path)), timeout=180)
    assert code == 0, err[-2000:]
    src = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    expect = src.get_data()
    sfreq = src.info["sfreq"]

    vhdr = formats.wait(tmp_path / "run1.rec", timeout_s=120)
    assert vhdr.name == "sub-01_ses-01_task-imagery_run-1_eeg.vhdr"
    raw = mne_bids.read_raw_bids(mne_bids.BIDSPath(root=tmp_path / "bids", subject="01", session="01",
                                                   task="imagery", run=1, datatype="eeg"), verbose="error")
    assert raw.ch_names == src.ch_names and raw.n_times == src.n_times
    np.testing.assert_allclose(raw.get_data(), expect.astype(np.float32), rtol=2e-7, atol=1e-12)
    np.testing.assert_allclose(raw.get_data(), expect, rtol=1e-6, atol=1e-12)
    assert list(raw.annotations.description) == list(src.annotations.description)
    np.testing.assert_allclose(raw.annotations.onset, src.annotations.onset, atol=0.5 / sfreq)

    xdf = formats.wait(tmp_path / "all.rec", timeout_s=120)
    data, _ = pyxdf.load_xdf(xdf, synchronize_clocks=False, dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in data}
    np.testing.assert_array_equal(by_name["eeg"]["time_series"].T, expect.astype(np.float32))
    np.testing.assert_allclose(by_name["eeg"]["time_stamps"], np.arange(src.n_times) / sfreq, atol=1e-9)
    assert [r[0] for r in by_name["markers"]["time_series"]] == list(src.annotations.description)
    np.testing.assert_allclose(by_name["markers"]["time_stamps"], src.annotations.onset, atol=0.5 / sfreq)


@pytest.mark.integration
def test_streamer_convert_on_the_command_line(tmp_path):
    import subprocess
    import sys

    import mne

    src = tmp_path / "run.rec"
    sent = eeg_recording(src)
    cmd = [sys.executable, "-m", "streamer", "convert", str(src), "--to", "fif", "--out", str(tmp_path / "r_raw.fif")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "r_raw.fif")
    raw = mne.io.read_raw_fif(tmp_path / "r_raw.fif", verbose="error")
    np.testing.assert_array_equal(raw.get_data().astype(np.float32), np.concatenate([m.data for m in sent], 1))
    bad = subprocess.run([sys.executable, "-m", "streamer", "convert", str(src), "--to", "bids"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "BIDS needs subject and task" in bad.stderr


@pytest.mark.integration
def test_a_run_stopped_by_its_duration_still_gets_its_bids_and_xdf(tmp_path):
    """The runner stops the recorder (and kills what is left after its grace period);
    the conversion runs in its own process and finishes all the same."""
    from tests.runtime_helpers import run, write_graph

    graph = f"""
name: stopped
nodes:
  eeg: {{type: eeg.synthetic, sfreq: 250}}
  rec:
    type: record
    path: "{tmp_path}/s.rec"
    format: bids
    bids: {{root: "{tmp_path}/bids", subject: "02", task: "synthetic"}}
  xdf: {{type: record, path: "{tmp_path}/x.rec", format: xdf}}
edges:
  - eeg -> rec.eeg
  - eeg.markers -> rec.markers
  - eeg -> xdf.eeg
  - eeg.markers -> xdf.markers
"""
    code, _, err = run(write_graph(tmp_path, graph), "--duration", "3", timeout=120)
    assert code == 0, err[-2000:]
    native = recording.read(tmp_path / "s.rec")
    vhdr = formats.wait(tmp_path / "s.rec", timeout_s=120)
    raw = mne_bids.read_raw_bids(mne_bids.BIDSPath(root=tmp_path / "bids", subject="02", task="synthetic",
                                                   datatype="eeg"), verbose="error")
    assert vhdr.exists() and raw.n_times == native["eeg"].data.shape[1] > 250
    np.testing.assert_allclose(raw.get_data(), native["eeg"].data, rtol=2e-7, atol=1e-12)
    assert list(raw.annotations.description) == [m["label"] for m in native["markers"].data]
    data, _ = pyxdf.load_xdf(formats.wait(tmp_path / "x.rec", timeout_s=120))
    assert {s["info"]["name"][0] for s in data} == {"eeg", "markers"}
