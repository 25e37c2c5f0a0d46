"""Signal-chain benchmark: band-pass + common average + band power on 256 channels (or
`--channels`) at 30 kHz in real-time chunks, our streaming nodes against SciPy/NumPy offline
on the same data.

    python -m tools.bench.signal [--channels 256] [--seconds 10] [--chunk-ms 10] [--repeats 3]

Prints the real-time factor (signal seconds per compute second, on one core), the
per-chunk latency (median, p99) of the streaming chain, the offline time and the ratio.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import scipy.signal

from nodes.signal.channels import Reref
from nodes.signal.filter import Filter, design
from nodes.signal.bandpower import BandPower
from streamer import streams

SFREQ = 30_000.0
N_CH = 256  # default channel count
# Resolvable with 100 ms Welch segments (10 Hz bins).
BANDS = {"beta": (10.0, 30.0), "gamma": (30.0, 100.0), "ripple": (100.0, 250.0), "fast_ripple": (250.0, 500.0)}


def streaming(x: np.ndarray, chunk: int) -> tuple[float, np.ndarray, np.ndarray]:
    names = [f"ch{i}" for i in range(x.shape[0])]
    nodes = [Filter(kind="bandpass", l_freq_hz=1, h_freq_hz=1000, order=4), Reref(method="average"),
             BandPower(bands=BANDS, window_ms=200, step_ms=100, segment_ms=100)]
    for n in nodes:
        n.start()
        n.warm_up()
    lat, powers = [], []
    t_all = time.perf_counter()
    for i in range(0, x.shape[1], chunk):
        msg = streams.samples(x[:, i:i + chunk], sfreq=SFREQ, ch_names=names, first_sample=i)
        t0 = time.perf_counter()
        msgs = [msg]
        for n in nodes:
            nxt = []
            for m in msgs:
                out = n.receive("in", m)
                nxt += out if isinstance(out, list) else ([out] if out is not None else [])
            msgs = nxt
        lat.append(time.perf_counter() - t0)
        powers += [m.data[0] for m in msgs]
    return time.perf_counter() - t_all, np.array(lat), np.array(powers)


def offline(x: np.ndarray) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    powers = []
    sos = design("bandpass", SFREQ, 1, 1000, 4, None, 30.0, "butter")
    y = scipy.signal.sosfilt(sos, x, axis=1)
    y = y - y.mean(axis=0, keepdims=True)
    win, step, seg = 6000, 3000, 3000
    for s in range(0, y.shape[1] - win + 1, step):
        f, p = scipy.signal.welch(y[:, s:s + win], SFREQ, nperseg=seg, axis=-1)
        powers.append(np.stack([p[:, (f >= lo) & (f <= hi)].mean(1) for lo, hi in BANDS.values()], axis=1))
    return time.perf_counter() - t0, np.array(powers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=N_CH)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--chunk-ms", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as promised
    except (AttributeError, OSError):
        pass
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    n = int(args.seconds * SFREQ)
    x = (np.random.default_rng(0).standard_normal((args.channels, n)) * 50e-6).astype(np.float32)
    chunk = int(args.chunk_ms * 1e-3 * SFREQ)
    runs = [streaming(x, chunk) for _ in range(args.repeats)]
    offs = [offline(x) for _ in range(args.repeats)]
    ours = statistics.median(r[0] for r in runs)
    ref = offs[0][1]
    same = runs[0][2].shape == ref.shape
    err = float(np.max(np.abs(runs[0][2] - ref) / np.abs(ref))) if same else float("nan")
    offs = [o[0] for o in offs]
    lat = np.concatenate([r[1] for r in runs]) * 1e3
    off = statistics.median(offs)
    print(f"{args.channels} channels at {SFREQ / 1e3:.0f} kHz, {args.seconds:.0f} s in {args.chunk_ms:g} ms chunks, "
          f"one core, median of {args.repeats}")
    print(f"streaming (filter + CAR + band power): {ours:.2f} s -> real-time factor {args.seconds / ours:.2f}x")
    print(f"per-chunk latency: median {np.median(lat):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms "
          f"(budget {args.chunk_ms:g} ms)")
    print(f"band powers: {len(ref)} windows, streaming vs offline max relative difference {err:.1e}")
    print(f"SciPy/NumPy offline on the same data: {off:.2f} s; ours/offline time ratio {ours / off:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
