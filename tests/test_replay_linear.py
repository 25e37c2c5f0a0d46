"""Replay's time is linear in the recording's length: a long multi-stream recording is
replayed completely, in order, and twice as many chunks cost about twice as much.

Costs are the replaying thread's CPU time (not wall time), so that other work on the
machine does not move them; the bound (3x for 2x the chunks) still separates linear from
quadratic (4x) with room for noise, and the smaller file is long enough (thousands of
chunks) that a per-message rescan of the file would show."""
import time

import numpy as np

from streamer import streams
from streamer.record_nodes import Replay
from streamer.recording import Writer
from streamer.testing import run as run_node

STREAMS = ("eeg", "events", "markers")


def write_session(path, n_chunks: int) -> None:
    """EEG chunks, event chunks and markers interleaved, as a recorder writes them."""
    rng = np.random.default_rng(0)
    w = Writer(path, fsync="never")
    for i in range(n_chunks):
        t = 1000.0 + i * 0.002
        kind = STREAMS[i % 3]
        if kind == "eeg":
            msg = streams.samples(rng.normal(size=(8, 4)).astype(np.float32), sfreq=250.0,
                                  ch_names=[f"E{c}" for c in range(8)], first_sample=4 * i, t_origin=t)
        elif kind == "events":
            ev = streams.as_events(rng.integers(0, 64, 20), rng.integers(0, 64, 20), rng.integers(0, 2, 20),
                                   np.sort(rng.integers(0, 2000, 20)) + 2000 * i)
            msg = streams.events(ev, width=64, height=64, t_origin=t)
        else:
            msg = streams.marker(f"T{i % 5}", i, t_origin=t)
        w.write(kind, msg, t)
    w.close()


def replay_cpu_s(path, n_chunks: int) -> float:
    """CPU seconds of one replay at speed 0, after checking it delivered every chunk."""
    t0 = time.thread_time()
    out = run_node(Replay(path=str(path), speed=0))
    cpu = time.thread_time() - t0
    assert sum(len(v) for v in out.values()) == n_chunks
    assert set(out) == set(STREAMS)
    markers = [m.data["value"] for m in out["markers"]]
    assert markers == list(range(2, n_chunks, 3))  # every marker, in the recorded order
    return cpu


def test_a_long_recording_replays_completely_in_linear_time(tmp_path):
    n = 3000
    short, long = tmp_path / "short.rec", tmp_path / "long.rec"
    write_session(short, n)
    write_session(long, 2 * n)
    replay_cpu_s(short, n)  # warm: imports, dtype caches
    t_short = min(replay_cpu_s(short, n) for _ in range(2))
    t_long = min(replay_cpu_s(long, 2 * n) for _ in range(2))
    assert t_long < 3.0 * t_short, f"{n} chunks: {t_short:.3f} s, {2 * n}: {t_long:.3f} s (CPU)"
