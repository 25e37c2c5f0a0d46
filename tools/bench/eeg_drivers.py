"""EEG driver benchmark: what our nodes cost over the libraries they wrap, on the same data.

    python -m tools.bench.eeg_drivers [--repeats 5] [--chunk-ms 100] [--lsl-seconds 600]

File replay: eeg.file at speed 0 over S001R04.edf (64 ch, 160 Hz, shared data) against a
bare loop of MNE's `raw.get_data(start, stop)` over the same chunks of a lazily opened
Raw (the reads eeg.file makes), in megasamples (channels x samples) per second.
LSL: `lsl.out` -> `eeg.lsl` in one process against bare pylsl `push_chunk` ->
`pull_chunk(as_numpy=True)` on the same 64-channel float32 chunks, synthetic data of
`--lsl-seconds` at 1 kHz. Medians over the repeats; ratio = ours / theirs (1 = no cost).
"""
from __future__ import annotations

import argparse
import statistics
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
    rng = np.random.default_rng(0)
    block = rng.normal(scale=1e-5, size=(channels, chunk)).astype(np.float32)
    names = [f"E{i}" for i in range(channels)]
    return [streams.samples(block, sfreq=sfreq, ch_names=names, first_sample=k * chunk)
            for k in range(int(seconds * sfreq) // chunk)]


def _drain(pull, total: int) -> None:
    got, deadline = 0, time.monotonic() + 120
    while got < total and time.monotonic() < deadline:
        got += pull()
    if got < total:
        raise RuntimeError(f"LSL delivered {got} of {total} samples")


def bench_lsl(seconds: float) -> tuple[float, float, int]:
    import pylsl

    msgs = _chunks(seconds)
    total = sum(m.data.shape[1] for m in msgs)
    # ours
    name = f"bench-{uuid.uuid4().hex[:8]}"
    outlet = LSLOutlet(name=name, unit="volts", max_buffered_s=3600)
    outlet.start()
    outlet.receive("in", msgs[0])
    inlet = LSLInlet(name=name, timeout_s=5, clocksync=False)
    inlet.start()
    assert outlet.outlet.wait_for_consumers(5)

    def pull_ours() -> int:
        out = inlet.produce()
        return out["out"].data.shape[1] if out else 0

    t0 = time.perf_counter()
    for m in msgs:
        outlet.receive("in", m)
    _drain(pull_ours, total)
    ours = time.perf_counter() - t0
    inlet.stop()
    outlet.stop()
    # bare pylsl, same chunks
    name = f"bench-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "EEG", 64, 1000.0, pylsl.cf_float32, name)
    out = pylsl.StreamOutlet(info, 0, 3600)
    raw_inlet = pylsl.StreamInlet(pylsl.resolve_byprop("name", name, 1, 5)[0], max_buflen=3600)
    raw_inlet.open_stream(5)
    assert out.wait_for_consumers(5)

    def pull_theirs() -> int:
        x, ts = raw_inlet.pull_chunk(timeout=0.05, max_samples=4096, min_samples=1, as_numpy=True)
        return len(ts)

    t0 = time.perf_counter()
    for m in msgs:
        out.push_chunk(np.ascontiguousarray(m.data.T), pylsl.local_clock())
    _drain(pull_theirs, total)
    theirs = time.perf_counter() - t0
    raw_inlet.close_stream()
    return ours, theirs, total * 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunk-ms", type=float, default=100.0)
    ap.add_argument("--lsl-seconds", type=float, default=600.0)
    args = ap.parse_args()
    path = data_path("eeg", "S001R04.edf")
    if not path.exists():
        raise SystemExit(f"{path} not found: the benchmark needs the shared recordings (set STREAMER_DATA)")
    for label, fn in (("file replay (eeg.file vs MNE get_data)", lambda: bench_file(path, args.chunk_ms)),
                      ("LSL round trip (lsl.out/eeg.lsl vs pylsl)", lambda: bench_lsl(args.lsl_seconds))):
        runs = [fn() for _ in range(args.repeats)]
        n = runs[0][2]
        ours = statistics.median(n / r[0] / 1e6 for r in runs)
        theirs = statistics.median(n / r[1] / 1e6 for r in runs)
        print(f"{label}: ours {ours:.1f} MS/s, theirs {theirs:.1f} MS/s, ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
