"""Event-filter benchmark: our background-activity filter against dv-processing's, our
refractory filter, and our binning against NumPy's fastest plain binning, on the same
real events.

    python -m tools.bench.event_filters [--events 20000000] [--repeats 3]

The DVXplorer recording (shared data) is tiled with time offsets until it holds at least
`--events` events. Denoise: our node (fed 100k-event chunks, as a stream would) against
dv.noise.BackgroundActivityNoiseFilter on an EventStore, timed without and with building
that EventStore from the NumPy array (what a NumPy pipeline has to pay). Refractory: our
node alone (dv-processing 2.0's Python binding has no refractory filter; its C++ one is
not reachable from Python), 1 ms period. Bin: our node (1 ms bins, 2 x 60 x 80) against
np.bincount on flattened indices, both per 100k-event chunk, timed twice: with a consumer
that drops each message of frames (the binning alone) and with one that reads every frame
(sums it). At 1 ms this recording gives ~200 bytes of frames per event, so both are
bound by memory bandwidth (the GB/s printed); the frames' sum is checked against the
events once, outside the timing. Medians over the repeats, in Mev/s; ratio = their time /
our time (above 1: ours is faster).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta

import numpy as np

from nodes.events.bin import Bin
from nodes.events.denoise import Denoise
from nodes.events.refractory import Refractory
from streamer.streams import EVENT_DTYPE, events
from tools.datasets import data_path

CHUNK = 100_000
WIDTH, HEIGHT = 320, 240


def load_tiled(n_min: int) -> np.ndarray:
    import dv_processing as dv

    path = data_path("events", "dvxplorer.aedat4")
    if not path.exists():
        raise SystemExit(f"{path} not found: the benchmark needs the shared recordings (set STREAMER_DATA)")
    rec = dv.io.MonoCameraRecording(str(path))
    parts = []
    while (b := rec.getNextEventBatch()) is not None:
        parts.append(b.numpy())
    a = np.concatenate(parts)
    reps = -(-n_min // len(a))
    span = int(a["timestamp"][-1] - a["timestamp"][0]) + 1000
    ev = np.empty(len(a) * reps, EVENT_DTYPE)
    for i in range(reps):
        s = ev[i * len(a):(i + 1) * len(a)]
        s["x"], s["y"], s["p"] = a["x"], a["y"], a["polarity"]
        s["t"] = a["timestamp"] + i * span
    return ev


def to_event_store(ev: np.ndarray):
    """A dv.EventStore of our events (dv-processing has no bulk NumPy constructor)."""
    import dv_processing as dv

    store = dv.EventStore()
    push = store.push_back
    for t, x, y, p in zip(ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), ev["p"].astype(bool).tolist()):
        push(t, x, y, p)
    return store


def ours_denoise(ev: np.ndarray) -> tuple[float, int]:
    node = Denoise(window_us=2000)
    node.start()
    kept = 0
    t0 = time.perf_counter()
    for i in range(0, len(ev), CHUNK):
        kept += len(node.receive("in", events(ev[i:i + CHUNK], width=WIDTH, height=HEIGHT)).data)
    return time.perf_counter() - t0, kept


def ours_refractory(ev: np.ndarray) -> tuple[float, int]:
    node = Refractory(refractory_us=1000)
    node.start()
    kept = 0
    t0 = time.perf_counter()
    for i in range(0, len(ev), CHUNK):
        kept += len(node.receive("in", events(ev[i:i + CHUNK], width=WIDTH, height=HEIGHT)).data)
    return time.perf_counter() - t0, kept


def dv_denoise(store) -> tuple[float, int]:
    import dv_processing as dv

    f = dv.noise.BackgroundActivityNoiseFilter((WIDTH, HEIGHT), backgroundActivityDuration=timedelta(microseconds=2000))
    t0 = time.perf_counter()
    f.accept(store)
    out = f.generateEvents()
    return time.perf_counter() - t0, len(out)


FRAME_SHAPE = (2, 60, 80)


def ours_bin(ev: np.ndarray, read: bool = False) -> tuple[float, float]:
    """Our node on 100k-event chunks; the consumer drops each message of frames, or with
    `read` sums it (reads every byte of every frame). Returns (seconds, sum of the frames
    when read, else the frames made)."""
    node = Bin(bin_us=1000, shape=FRAME_SHAPE, frames_per_message=100)
    node.start()
    total = 0.0
    t0 = time.perf_counter()
    for i in range(0, len(ev), CHUNK):
        for m in node.receive("in", events(ev[i:i + CHUNK], width=WIDTH, height=HEIGHT)) or []:
            total += float(m.data.sum()) if read else len(m.data)
    for m in node.finish() or []:
        total += float(m.data.sum()) if read else len(m.data)
    return time.perf_counter() - t0, total


def numpy_bin(ev: np.ndarray, read: bool = False) -> tuple[float, float]:
    """np.bincount on flattened (bin, channel, row, column) indices, per 100k-event chunk
    like our node (the whole tiled stream as one array of 1 ms frames would need ~4 GB);
    bins cut by a chunk boundary are left split: a little less work than ours. `read`
    and the result as for ours_bin."""
    c_, h_, w_ = FRAME_SHAPE
    total = 0.0
    t0 = time.perf_counter()
    for i in range(0, len(ev), CHUNK):
        c = ev[i:i + CHUNK]
        b = (c["t"] - int(c["t"][0]) // 1000 * 1000) // 1000
        n_bins = int(b[-1]) + 1
        idx = ((b * c_ + c["p"]) * h_ + c["y"].astype(np.int64) * h_ // HEIGHT) * w_ \
            + c["x"].astype(np.int64) * w_ // WIDTH
        frames = np.bincount(idx, minlength=n_bins * c_ * h_ * w_).astype(np.float32).reshape(n_bins, *FRAME_SHAPE)
        total += float(frames.sum()) if read else len(frames)
    return time.perf_counter() - t0, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000_000, help="at least this many events")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    ev = load_tiled(args.events)
    n = len(ev)
    mev = n / 1e6
    print(f"event filters benchmark: {n:,} events (DVXplorer recording tiled), median of {args.repeats} runs")
    ours_denoise(ev[:CHUNK])  # compile outside the timing
    ours_bin(ev[:CHUNK])
    ours_refractory(ev[:CHUNK])

    t_conv0 = time.perf_counter()
    store = to_event_store(ev)
    conv = time.perf_counter() - t_conv0

    ours = [ours_denoise(ev) for _ in range(args.repeats)]
    theirs = [dv_denoise(store) for _ in range(args.repeats)]
    if ours[0][1] != theirs[0][1]:
        print(f"  WARNING: kept {ours[0][1]:,} events, dv-processing {theirs[0][1]:,}")
    o = statistics.median(r[0] for r in ours)
    d = statistics.median(r[0] for r in theirs)
    print(f"denoise (window 2000 us), kept {ours[0][1]:,} of {n:,} (dv-processing: {theirs[0][1]:,})")
    print(f"  ours                                  {o:8.3f} s  {mev / o:8.1f} Mev/s")
    print(f"  dv-processing (EventStore given)      {d:8.3f} s  {mev / d:8.1f} Mev/s   ratio {d / o:6.2f}")
    print(f"  dv-processing + NumPy->EventStore     {d + conv:8.3f} s  {mev / (d + conv):8.1f} Mev/s   "
          f"ratio {(d + conv) / o:6.2f}   (conversion {conv:.1f} s, once)")
    del store

    rf = [ours_refractory(ev) for _ in range(args.repeats)]
    o = statistics.median(r[0] for r in rf)
    print(f"refractory (1000 us), kept {rf[0][1]:,} of {n:,}")
    print(f"  ours                                  {o:8.3f} s  {mev / o:8.1f} Mev/s   (no comparator in Python)")

    # Frames are checked once, outside the timing: every event counted, as NumPy counts.
    checked, reference = ours_bin(ev, read=True)[1], numpy_bin(ev, read=True)[1]
    if checked != reference or checked != n:
        print(f"  WARNING: binned totals differ: ours {checked:,.0f}, numpy {reference:,.0f}, events {n:,}")
    frame_mb = 4 * int(np.prod(FRAME_SHAPE)) / 1e6
    frames_made = ours_bin(ev[:20 * CHUNK])[1] / min(n, 20 * CHUNK)  # frames per event
    print(f"bin (1 ms, {' x '.join(map(str, FRAME_SHAPE))}: {frame_mb * 1e3:.1f} kB a frame, "
          f"{frame_mb * 1e6 * frames_made:.0f} bytes of frames per event of this recording)")
    for read, what in ((False, "frames handed on"), (True, "frames read by the consumer (sum)")):
        ob = [ours_bin(ev, read) for _ in range(args.repeats)]
        nb = [numpy_bin(ev, read) for _ in range(args.repeats)]
        o = statistics.median(r[0] for r in ob)
        b = statistics.median(r[0] for r in nb)
        print(f"  {what}:")
        print(f"    ours (streaming, 100k chunks)       {o:8.3f} s  {mev / o:8.1f} Mev/s   "
              f"({mev * 1e3 * frames_made * frame_mb / o:.1f} GB/s of frames)")
        print(f"    numpy bincount (100k chunks)        {b:8.3f} s  {mev / b:8.1f} Mev/s   ratio {b / o:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
