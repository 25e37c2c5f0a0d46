"""EEG driver benchmark: what our nodes cost over the libraries they wrap, on the same data.

    python -m tools.bench.eeg_drivers [--repeats 5] [--chunk-ms 100] [--lsl-seconds 600] [--lsl-buffer-s S]

File replay: eeg.file at speed 0 over S001R04.edf (64 ch, 160 Hz, shared data) against a
bare loop of MNE's `raw.get_data(start, stop)` over the same chunks of a lazily opened
Raw (the reads eeg.file makes), in megasamples (channels x samples) per second.
LSL: `lsl.out` -> `eeg.lsl` in one process against bare pylsl `push_chunk` ->
`pull_chunk(as_numpy=True)` on the same 64-channel float32 chunks, synthetic data of
`--lsl-seconds` at 1 kHz stamped on the nominal timeline, pushed as fast as possible by a
thread while the main thread pulls; both sides get `--lsl-buffer-s` of buffer at the
outlet and at the inlet (an LSL buffer holds seconds x nominal rate samples: data pushed
1000 times faster than real time outrun a buffer shorter than the data, on both sides).
Each run prints what each side delivered, and what eeg.lsl counted as missing from the
timestamps. MATLAB clips: the seizure clips read by eeg.file's reader (scipy in a helper
process) against scipy.io.loadmat in this process.
Medians over the repeats; ratio = ours / theirs (1 = no cost).
"""
from __future__ import annotations

import argparse
import logging
import math
import statistics
import threading
import time
import uuid

import numpy as np

from drivers.eeg.file_source import FileSource
from drivers.eeg.lsl_inlet import LSLInlet
from drivers.eeg.lsl_outlet import LSLOutlet
from streamer import streams
from streamer.testing import run
from tools.datasets import data_path


def bench_file(path, chunk_ms: float) -> tuple[float, float, int]:
    import mne

    t0 = time.perf_counter()
    out = run(FileSource(path=str(path), speed=0, chunk_ms=chunk_ms))
    ours = time.perf_counter() - t0
    n = sum(m.data.size for m in out["out"])
    t0 = time.perf_counter()
    raw = mne.io.read_raw(path, preload=False, verbose="error")
    step = max(1, int(round(chunk_ms * 1e-3 * raw.info["sfreq"])))
    total = 0
    for a in range(0, raw.n_times, step):
        total += raw.get_data(start=a, stop=min(a + step, raw.n_times)).astype(np.float32).size
    theirs = time.perf_counter() - t0
    assert total == n
    return ours, theirs, n


def _chunks(seconds: float, sfreq: float = 1000.0, channels: int = 64, chunk: int = 50):
    """Chunks stamped on the nominal timeline (newest sample of each), so that a lost
    sample shows in the receiver's timestamps."""
    rng = np.random.default_rng(0)
    block = rng.normal(scale=1e-5, size=(channels, chunk)).astype(np.float32)
    names = [f"E{i}" for i in range(channels)]
    t0 = time.monotonic()
    return [streams.samples(block, sfreq=sfreq, ch_names=names, first_sample=k * chunk,
                            t_origin=t0 + ((k + 1) * chunk - 1) / sfreq)
            for k in range(int(seconds * sfreq) // chunk)]


def _drain(pull, total: int, idle_s: float = 10.0) -> int:
    """Pulls until every sample came, or none came for `idle_s` (the rest is lost)."""
    got, last = 0, time.monotonic()
    while got < total and time.monotonic() - last < idle_s:
        n = pull()
        if n:
            got, last = got + n, time.monotonic()
    return got


def _round_trip(push, pull, total: int) -> tuple[float, int]:
    """Pushes from a thread (as a sender process would) while this thread pulls."""
    pusher = threading.Thread(target=push, daemon=True)
    t0 = time.perf_counter()
    pusher.start()
    got = _drain(pull, total)
    elapsed = time.perf_counter() - t0
    pusher.join()
    return elapsed, got


def bench_lsl(seconds: float, buffer_s: int) -> dict:
    """lsl.out -> eeg.lsl and bare pylsl, both with `buffer_s` of buffer at the outlet and the
    inlet (max_buffered / max_buflen), on the same chunks."""
    import pylsl

    msgs = _chunks(seconds)
    total = sum(m.data.shape[1] for m in msgs)
    # ours: lsl.out opens its outlet at the first message and waits there for the inlet,
    # which starts meanwhile (a chunk pushed before any consumer is not kept by LSL)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    outlet = LSLOutlet(name=name, unit="volts", max_buffered_s=buffer_s, wait_for_consumer_s=10)
    outlet.start()
    connected = threading.Event()

    def open_outlet() -> None:
        outlet.receive("in", msgs[0])
        connected.set()

    opener = threading.Thread(target=open_outlet, daemon=True)
    opener.start()
    inlet = LSLInlet(name=name, timeout_s=5, clocksync=False, max_buffered_s=buffer_s)
    inlet.start()
    assert connected.wait(10)
    opener.join()

    def push_ours() -> None:
        for m in msgs[1:]:
            outlet.receive("in", m)

    def pull_ours() -> int:
        out = inlet.produce()
        return out["out"].data.shape[1] if out else 0

    ours, got_ours = _round_trip(push_ours, pull_ours, total)
    inlet.stop()  # judges the last window of timestamps
    outlet.stop()
    # bare pylsl, same chunks, same stamps, same buffers
    name = f"bench-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "EEG", 64, 1000.0, pylsl.cf_float32, name)
    out = pylsl.StreamOutlet(info, 0, buffer_s)
    raw_inlet = pylsl.StreamInlet(pylsl.resolve_byprop("name", name, 1, 5)[0], max_buflen=buffer_s)
    raw_inlet.open_stream(5)
    assert out.wait_for_consumers(5)
    offset = pylsl.local_clock() - time.monotonic()

    def push_theirs() -> None:
        for m in msgs:
            out.push_chunk(np.ascontiguousarray(m.data.T), m.t_origin + offset)

    def pull_theirs() -> int:
        x, ts = raw_inlet.pull_chunk(timeout=0.05, max_samples=4096, min_samples=1, as_numpy=True)
        return len(ts)

    theirs, got_theirs = _round_trip(push_theirs, pull_theirs, total)
    raw_inlet.close_stream()
    return {"ours": ours, "theirs": theirs, "n": total * 64, "total": total, "got_ours": got_ours,
            "got_theirs": got_theirs, "gaps": inlet.counters["gaps"],
            "missing": inlet.counters["missing_samples"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunk-ms", type=float, default=100.0)
    ap.add_argument("--lsl-seconds", type=float, default=600.0)
    ap.add_argument("--lsl-buffer-s", type=int, default=None,
                    help="outlet max_buffered and inlet max_buflen on both sides (default: --lsl-seconds, "
                         "so that the data fit; LSL's own default is 360)")
    args = ap.parse_args()
    buffer_s = args.lsl_buffer_s or int(math.ceil(args.lsl_seconds))
    # what eeg.lsl counts is printed below, once per run, not once per gap
    logging.getLogger("drivers.eeg.lsl_inlet").setLevel(logging.ERROR)
    path = data_path("eeg", "S001R04.edf")
    if not path.exists():
        raise SystemExit(f"{path} not found: the benchmark needs the shared recordings (set STREAMER_DATA)")
    runs = [bench_file(path, args.chunk_ms) for _ in range(args.repeats)]
    _report("file replay (eeg.file vs MNE get_data)", runs)
    runs = [bench_lsl(args.lsl_seconds, buffer_s) for _ in range(args.repeats)]
    _report(f"LSL round trip, {buffer_s} s buffers (lsl.out/eeg.lsl vs pylsl)",
            [(r["ours"], r["theirs"], r["n"]) for r in runs])
    for r in runs:
        print(f"  delivered: ours {r['got_ours']}/{r['total']} (eeg.lsl counted {r['missing']} missing "
              f"in {r['gaps']} gaps), pylsl {r['got_theirs']}/{r['total']}")
    mats = sorted(data_path("ieeg").glob("Dog_1_*.mat"))
    if mats:
        runs = [bench_mat(mats) for _ in range(args.repeats)]
        ours = statistics.median(r[0] for r in runs) / len(mats) * 1e3
        theirs = statistics.median(r[1] for r in runs) / len(mats) * 1e3
        print(f"MATLAB clips ({len(mats)}; helper process vs scipy.io.loadmat here): ours {ours:.2f} ms/clip, "
              f"theirs {theirs:.2f} ms/clip, ratio {theirs / ours:.2f}")


def _report(label: str, runs: list[tuple[float, float, int]]) -> None:
    n = runs[0][2]
    ours = statistics.median(n / r[0] / 1e6 for r in runs)
    theirs = statistics.median(n / r[1] / 1e6 for r in runs)
    print(f"{label}: ours {ours:.1f} MS/s, theirs {theirs:.1f} MS/s, ratio {ours / theirs:.2f}")


def bench_mat(files: list) -> tuple[float, float]:
    """Seizure clips through eeg.file's reader (scipy in a helper process, started
    already) against scipy.io.loadmat in this process."""
    from drivers.eeg.mat_clips import load_clip, read_clip
    load_clip(files[0], None)
    t0 = time.perf_counter()
    for f in files:
        load_clip(f, None)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in files:
        read_clip(f, None)
    return ours, time.perf_counter() - t0


if __name__ == "__main__":
    main()
