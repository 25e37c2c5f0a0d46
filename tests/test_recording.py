"""Recording and replay: crash safety, torn tails, byte-exact round trips, timing."""
import os
import signal
import time

import numpy as np
import pytest

from streamer import recording, streams
from streamer.recording import Reader, RecordingError, Writer
from tests.runtime_helpers import run, start, worker_pid, write_graph


def some_messages():
    rng = np.random.default_rng(1)
    ev = np.zeros(50, streams.EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = rng.integers(0, 640, 50), rng.integers(0, 480, 50), rng.integers(0, 2, 50), np.arange(50)
    out = []
    for i in range(20):
        out.append(("events", streams.events(ev.copy(), width=640, height=480)))
        out.append(("eeg", streams.samples(rng.normal(size=(3, 16)), sfreq=160.0, ch_names=["C3", "Cz", "C4"],
                                           t_first=i * 0.1, first_sample=i * 16)))
        out.append(("markers", streams.marker(f"T{i % 3}", i, time=i * 0.1)))
    return out


def test_read_concatenates_each_stream(tmp_path):
    path = tmp_path / "r.rec"
    w = Writer(path)
    msgs = some_messages()
    for name, m in msgs:
        w.write(name, m, 0.0)
    w.close()
    rec = recording.read(path)
    assert set(rec) == {"events", "eeg", "markers"}
    assert rec["events"].data.dtype == streams.EVENT_DTYPE and len(rec["events"].data) == 1000
    assert rec["eeg"].data.shape == (3, 320) and rec["eeg"].meta["ch_names"] == ["C3", "Cz", "C4"]
    np.testing.assert_allclose(rec["eeg"].times, np.arange(320) / 160.0, atol=1e-12)
    np.testing.assert_array_equal(rec["eeg"].data[:, :16], msgs[1][1].data)
    assert [m["value"] for m in rec["markers"].data] == list(range(20))


def test_a_torn_tail_never_fails_and_keeps_every_complete_chunk(tmp_path):
    path = tmp_path / "full.rec"
    w = Writer(path)
    for name, m in some_messages():
        w.write(name, m, 0.0)
    w.close()
    full = path.read_bytes()
    offsets = [c.offset for c in Reader(path)] + [len(full)]
    cut_path = tmp_path / "cut.rec"
    rng = np.random.default_rng(0)
    for cut in sorted(set(rng.integers(len(recording.MAGIC), len(full), 200).tolist()) | set(offsets)):
        cut_path.write_bytes(full[:cut])
        reader = Reader(cut_path)
        got = list(reader)
        complete = sum(1 for o in offsets[1:] if o <= cut)
        assert len(got) == complete
        assert reader.torn == (cut not in offsets)
    # A flipped byte inside the body ends the reading at that chunk, with the reason.
    bad = bytearray(full)
    bad[offsets[5] + 40] ^= 0xFF
    cut_path.write_bytes(bytes(bad))
    reader = Reader(cut_path)
    assert len(list(reader)) == 5 and "checksum" in reader.problem


def test_not_a_recording(tmp_path):
    p = tmp_path / "x.rec"
    p.write_bytes(b"hello world, not a recording")
    with pytest.raises(RecordingError, match="not a streamer recording"):
        recording.read(p)


def test_kill_9_of_the_recorder_keeps_every_flushed_chunk(tmp_path):
    rec = tmp_path / "killed.rec"
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, rate_hz: 2000, chunk: 10}}
  rec: {{type: record, path: {rec}}}
edges: [counter -> rec]
""")
    proc = start(g)
    pid = worker_pid(proc.pid, "rec")
    deadline = time.monotonic() + 30
    while (not rec.exists() or rec.stat().st_size < 20_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    reader = Reader(rec)
    v = np.concatenate([c.message.data[0] for c in reader])
    assert len(v) >= 500
    np.testing.assert_array_equal(v, np.arange(len(v), dtype=np.float32))


def test_record_then_replay_is_byte_exact_with_the_original_timing(tmp_path):
    first, second = tmp_path / "first.rec", tmp_path / "second.rec"
    g1 = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 2000, chunk: 10, rate_hz: 1000}}
  rec: {{type: record, path: {first}}}
edges: [counter -> rec.numbers]
""", "record.yaml")
    code, _, err = run(g1, tmp=tmp_path)
    assert code == 0, err
    g2 = write_graph(tmp_path, f"""
nodes:
  replay: {{type: replay, path: {first}}}
  rec: {{type: record, path: {second}}}
edges: [replay.numbers -> rec.numbers]
""", "replay.yaml")
    code, _, err = run(g2, tmp=tmp_path)
    assert code == 0, err
    a = list(Reader(first))
    b = list(Reader(second))
    assert len(a) == len(b) == 200
    for x, y in zip(a, b):
        assert x.message.data.tobytes() == y.message.data.tobytes()
        assert x.message.meta == y.message.meta and x.message.stream == y.message.stream
    original = np.diff([c.message.t_origin for c in a])
    replayed = np.diff([c.message.t_origin for c in b])  # stamped by replay when sent
    err_ms = np.abs(replayed - original) * 1e3
    assert np.median(err_ms) < 0.2
    # p90 rather than the maximum: with three processes on a loaded 2-core machine the
    # scheduler alone delays one now and then; the timing itself is checked in-process below.
    assert np.percentile(err_ms, 90) < 1.0, f"p90 {np.percentile(err_ms, 90):.3f} ms, max {err_ms.max():.3f} ms"


def test_replay_reproduces_the_original_intervals_within_1_ms(tmp_path):
    src = tmp_path / "jittered.rec"
    w = Writer(src)
    rng = np.random.default_rng(0)
    t = streams.now() + np.cumsum(rng.uniform(0.002, 0.02, 150))  # irregular, 2-20 ms apart
    for i, ti in enumerate(t):
        m = streams.marker("x", i)
        m.t_origin = float(ti)
        w.write("x", m, float(ti))
    w.close()
    from streamer.record_nodes import Replay
    from streamer.testing import run as run_node
    out = run_node(Replay(path=str(src), speed=1.0))["x"]
    err_ms = np.abs(np.diff([m.t_origin for m in out]) - np.diff(t)) * 1e3
    # Typically a few µs; p95 rather than the maximum, because a busy 2-core machine
    # now and then wakes any sleeper a millisecond late, which no pacing can undo.
    assert np.median(err_ms) < 0.1, f"median {np.median(err_ms):.3f} ms"
    assert np.percentile(err_ms, 95) < 1.0, f"p95 {np.percentile(err_ms, 95):.3f} ms, max {err_ms.max():.3f} ms"


def test_replay_as_fast_as_possible_and_faster(tmp_path):
    src = tmp_path / "src.rec"
    w = Writer(src)
    t0 = streams.now()
    for i in range(50):
        m = streams.marker("tick", i)
        m.t_origin = t0 + i * 0.02  # one per 20 ms: 1 s in all
        w.write("ticks", m, m.t_origin)
    w.close()
    from streamer.record_nodes import Replay
    from streamer.testing import run as run_node
    for speed, low, high in ((0, 0.0, 0.2), (4.0, 0.2, 0.5)):
        t = time.monotonic()
        out = run_node(Replay(path=str(src), speed=speed))
        elapsed = time.monotonic() - t
        assert [m.data["value"] for m in out["ticks"]] == list(range(50))
        assert low <= elapsed < high, (speed, elapsed)
