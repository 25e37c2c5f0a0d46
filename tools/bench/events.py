"""Event-file decoding: ours (Numba, streaming) vs expelliarmus (C) on the same bytes.

The shared RAW recordings are tiled to `--events` events (each copy shifted in time so
the stream stays monotonic, re-encoded with our writers: EVT 3.0, EVT 2.0, and DAT), then
both decoders read the same files; medians of `--repeats` runs, in Mev/s, and the ratio.
Ends with the event-filter benchmark so one command covers both.

    .venv/bin/python -m tools.bench.events [--events 50000000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from drivers.dvs import open_events, read_events
from drivers.dvs.writers import write_raw
from streamer.streams import EVENT_DTYPE
from tools.datasets import data_path


def tiled(src: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // len(src))
    span = int(src["t"][-1] - src["t"][0]) + 1
    out = np.empty(reps * len(src), EVENT_DTYPE)
    for i in range(reps):
        part = out[i * len(src):(i + 1) * len(src)]
        part[:] = src
        part["t"] += i * span - int(src["t"][0])
    return out


def write_dat(path: Path, ev: np.ndarray) -> None:
    body = np.empty((len(ev), 2), "<u4")
    body[:, 0] = ev["t"]
    body[:, 1] = ev["x"].astype(np.uint32) | (ev["y"].astype(np.uint32) << 14) | (ev["p"].astype(np.uint32) << 28)
    path.write_bytes(b"% Data file containing Event2D events.\n% Version 2\n% Width 1280\n% Height 720\n"
                     + bytes([0, 8]) + body.tobytes())


def ours(path: Path) -> int:
    n = 0
    for ev in open_events(path).chunks(1 << 20):
        n += len(ev)
    return n


def theirs(path: Path, encoding: str) -> int:
    from expelliarmus import Wizard
    wiz = Wizard(encoding=encoding, fpath=str(path), chunk_size=1 << 20)
    n = 0
    for chunk in wiz.read_chunk():
        n += len(chunk)
    return n


def median_time(fn, repeats: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-filters", action="store_true", help="skip the event-filter benchmark")
    a = ap.parse_args(argv)
    evt3_src = read_events(data_path("events", "gen41_evt3.raw"))
    evt2_src = read_events(data_path("events", "gen3_evt2.raw"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = {}
        ev = tiled(evt3_src, a.events)
        write_raw(tmp / "t.evt3.raw", ev, 1280, 720, "EVT3")
        files["EVT3"] = (tmp / "t.evt3.raw", "evt3")
        write_dat(tmp / "t.dat", ev)
        files["DAT"] = (tmp / "t.dat", "dat")
        del ev
        ev = tiled(evt2_src, a.events)
        write_raw(tmp / "t.evt2.raw", ev, 640, 480, "EVT2")
        files["EVT2"] = (tmp / "t.evt2.raw", "evt2")
        del ev
        ours(files["EVT3"][0])  # compile
        print(f"event-file decoding, {a.events / 1e6:.0f} M events, median of {a.repeats}")
        for fmt, (path, enc) in files.items():
            to, no = median_time(lambda: ours(path), a.repeats)
            tt, nt = median_time(lambda: theirs(path, enc), a.repeats)
            print(f"  {fmt:5s} ours {no / to / 1e6:8.1f} Mev/s   expelliarmus {nt / tt / 1e6:8.1f} Mev/s"
                  f"   ratio {tt / to:5.2f}   ({no} vs {nt} events)")
    if not a.no_filters:
        from tools.bench import event_filters
        event_filters.main([])


if __name__ == "__main__":
    main()
