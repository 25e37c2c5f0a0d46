"""Event-file decoding: ours (Numba, streaming) vs expelliarmus (C) on the same bytes.

The shared recordings are tiled by bytes to at least `--events` events: the sensor's own
words (EVT 3.0 vectors and all) are repeated, with each copy's TIME_HIGH words (RAW) or
timestamps (DAT) moved on by the span of one copy so that time keeps increasing across
copies. Both decoders then read the same files; medians of `--repeats` runs in Mev/s, the
ratio, and the counts and sums of each decoder (expelliarmus's EVT 3.0 times differ: it
counts every TIME_LOW that steps back as an overflow of the time base).
EVT 3.0 is also timed with two decoding threads (`open_events(..., threads=2)`), against
the same single-threaded expelliarmus. AEDAT4: the DVXplorer recording's events repeated
(each copy later by the span of one) to `--aedat4-events`, read by our reader (dv-processing
in a helper process, under a watchdog; its start included) against dv-processing's
reader in this process, converted to the same arrays. Ends with the event-filter benchmark
so one command covers both.

    .venv/bin/python -m tools.bench.events [--events 50000000] [--aedat4-events 5000000] [--repeats 5] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from drivers.dvs import open_events
from tools.datasets import data_path


def body(path: Path, dtype: str) -> tuple[bytes, np.ndarray]:
    """The header of a RAW/DAT file and its words after it."""
    r = open_events(path)
    raw = path.read_bytes()
    return raw[:r.data_offset], np.frombuffer(raw[r.data_offset:], dtype)


def tile_raw(src: Path, dst: Path, fmt: str, n_events: int) -> None:
    """Repeat the words from the first TIME_HIGH on, each copy's TIME_HIGH shifted by the
    copy's span (modulo the field width, so the decoders count the wraps)."""
    header, words = body(src, "<u2" if fmt == "EVT3" else "<u4")
    shift, bits = (12, 12) if fmt == "EVT3" else (28, 28)
    mask = (1 << bits) - 1
    is_high = (words >> shift) == 0x8
    words = words[int(np.argmax(is_high)):]
    is_high = is_high[int(np.argmax(is_high)):]
    highs = (words[is_high] & mask).astype(np.int64)
    span = int(highs.max() - highs.min()) + 1  # both recordings are far from a wrap
    per_copy = sum(len(c) for c in open_events(src).chunks(1 << 20))
    copies = -(-n_events // per_copy)
    with open(dst, "wb") as f:
        f.write(header)
        for i in range(copies):
            w = words.copy()
            w[is_high] = (w[is_high] & ~w.dtype.type(mask)) | ((highs + i * span) & mask).astype(w.dtype)
            f.write(w.tobytes())


def tile_dat(src: Path, dst: Path, n_events: int) -> None:
    header, words = body(src, "<u4")
    pairs = words.reshape(-1, 2)
    span = int(pairs[:, 0].max()) + 1
    copies = -(-n_events // len(pairs))
    with open(dst, "wb") as f:
        f.write(header)
        for i in range(copies):
            p = pairs.copy()
            p[:, 0] += i * span
            f.write(p.tobytes())


def ours(path: Path, threads: int = 1) -> tuple[int, int, int, int]:
    n = sx = st = on = 0
    for ev in open_events(path, threads=threads).chunks(1 << 20):
        n += len(ev)
    return n, sx, st, on


def ours_sums(path: Path) -> tuple[int, int, int, int]:
    n = sx = st = on = 0
    for ev in open_events(path).chunks(1 << 20):
        n += len(ev)
        sx += int(ev["x"].sum(dtype=np.int64))
        st += int(ev["t"].sum(dtype=np.int64))
        on += int(ev["p"].sum(dtype=np.int64))
    return n, sx, st, on


def theirs(path: Path, encoding: str, sums: bool = False) -> tuple[int, int, int, int]:
    from expelliarmus import Wizard
    wiz = Wizard(encoding=encoding, fpath=str(path), chunk_size=1 << 20)
    n = sx = st = on = 0
    for chunk in wiz.read_chunk():
        n += len(chunk)
        if sums:
            sx += int(chunk["x"].sum(dtype=np.int64))
            st += int(chunk["t"].sum(dtype=np.int64))
            on += int(chunk["p"].sum(dtype=np.int64))
    return n, sx, st, on


def tile_aedat4(src: Path, dst: Path, n_events: int) -> None:
    from drivers.dvs.aedat4 import write_aedat4
    r = open_events(src)
    ev = r.read()
    span = int(ev["t"][-1] - ev["t"][0]) + 1
    copies = -(-n_events // len(ev))
    tiled = np.concatenate([ev] * copies)
    tiled["t"] += np.repeat(np.arange(copies, dtype=np.int64) * span, len(ev))
    write_aedat4(dst, tiled, r.width, r.height)


def dv_in_process(path: Path) -> int:
    """dv-processing's own reader in this process: what our reader ran before the helper."""
    import dv_processing as dv

    from drivers.dvs.dv_arrays import store_events
    rec = dv.io.MonoCameraRecording(str(path))
    n = 0
    while rec.isRunning():
        store = rec.getNextEventBatch()
        if store is not None:
            n += len(store_events(store))
    return n


def bench_aedat4(n_events: int, repeats: int, tmp: Path) -> None:
    path = tmp / "t.aedat4"
    tile_aedat4(data_path("events", "dvxplorer.aedat4"), path, n_events)
    n = dv_in_process(path)  # the file in the page cache for both
    assert ours(path)[0] == n
    starts, reads = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        reader = open_events(path)  # starts the helper, which reads the header
        t1 = time.perf_counter()
        for _ in reader.chunks(1 << 20):
            pass
        reads.append(time.perf_counter() - t1)
        starts.append(t1 - t0)
        reader.close()
    to, ts = statistics.median(reads), statistics.median(starts)
    tt = median_time(lambda: dv_in_process(path), repeats)
    print(f"  AEDAT4 ours (helper process) {n / to / 1e6:7.1f} Mev/s   dv-processing in process "
          f"{n / tt / 1e6:7.1f} Mev/s   ratio {tt / to:5.2f}   ({n / 1e6:.1f} M events, "
          f"{path.stat().st_size / 1e6:.0f} MB); starting the helper {ts * 1e3:.0f} ms, once per reader")


def profile_evt3(path: Path, repeats: int) -> None:
    """Where EVT 3.0 decoding's time goes: the file's bytes read into memory, the decoding
    kernel alone on words already in memory (output arrays reused), and the memory floor of
    writing that many events (a fill of the same arrays)."""
    from drivers.dvs import evt3
    from drivers.dvs import TRIGGER_DTYPE
    from streamer.streams import EVENT_DTYPE
    r = open_events(path)
    width, height, offset = r.width, r.height, r.data_offset
    words = np.fromfile(path, "<u2", offset=offset)
    step = 1 << 20
    ev, tr = np.empty(step + evt3.MAX_PER_WORD, EVENT_DTYPE), np.empty(step, TRIGGER_DTYPE)

    def kernel() -> int:
        state, n, i = evt3.new_state(), 0, 0
        while i < len(words):
            used, got, _ = evt3.decode(words[i:i + step], state, width, height, ev, tr)
            i, n = i + used, n + got
        return n

    n = kernel()
    t_read = median_time(lambda: np.fromfile(path, "<u2", offset=offset), repeats)
    t_kernel = median_time(kernel, repeats)
    raw = ev.view(np.uint8)  # a plain memset of the same bytes
    t_fill = median_time(lambda: [raw.fill(0) for _ in range(-(-n // len(ev)))], repeats)
    t_all = median_time(lambda: ours(path), repeats)
    print(f"  EVT3 profile, per event: whole reader {t_all / n * 1e9:.2f} ns = file bytes to memory "
          f"{t_read / n * 1e9:.2f} ns + decoding kernel {t_kernel / n * 1e9:.2f} ns + the rest "
          f"{(t_all - t_read - t_kernel) / n * 1e9:.2f} ns; writing {EVENT_DTYPE.itemsize} bytes an event "
          f"alone costs {t_fill / n * 1e9:.2f} ns ({len(words) / n:.2f} words an event)")


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--aedat4-events", type=int, default=5_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-filters", action="store_true", help="skip the event-filter benchmark")
    ap.add_argument("--profile", action="store_true", help="where EVT 3.0 decoding's time goes")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = {"EVT3": (tmp / "t.evt3.raw", "evt3"), "EVT2": (tmp / "t.evt2.raw", "evt2"),
                 "DAT": (tmp / "t.dat", "dat")}
        tile_raw(data_path("events", "gen41_evt3.raw"), files["EVT3"][0], "EVT3", a.events)
        tile_raw(data_path("events", "gen3_evt2.raw"), files["EVT2"][0], "EVT2", a.events)
        tile_dat(data_path("events", "ncars_td.dat"), files["DAT"][0], a.events)
        print(f"event-file decoding, >= {a.events / 1e6:.0f} M events per file, median of {a.repeats}")
        for fmt, (path, enc) in files.items():
            ours(path)  # compile, and the file in the page cache for both
            to = median_time(lambda: ours(path), a.repeats)
            tt = median_time(lambda: theirs(path, enc), a.repeats)
            mine, ref = ours_sums(path), theirs(path, enc, sums=True)
            print(f"  {fmt:5s} ours {mine[0] / to / 1e6:7.1f} Mev/s   expelliarmus {ref[0] / tt / 1e6:7.1f} Mev/s"
                  f"   ratio {tt / to:5.2f}   ({path.stat().st_size / 1e6:.0f} MB)")
            for name, m, r in zip(("events", "sum x", "sum t", "ON"), mine, ref):
                if m != r:
                    print(f"        {name}: ours {m:,} vs expelliarmus {r:,} ({m - r:+,})")
            if fmt == "EVT3":  # blocks cut in two, decoded by two threads (expelliarmus has one)
                t2 = median_time(lambda: ours(path, threads=2), a.repeats)
                print(f"  {'':5s} ours, 2 threads {mine[0] / t2 / 1e6:7.1f} Mev/s   ratio {tt / t2:5.2f}")
                if a.profile:
                    profile_evt3(path, a.repeats)
        bench_aedat4(a.aedat4_events, a.repeats, tmp)
    if not a.no_filters:
        from tools.bench import event_filters
        event_filters.main([])


if __name__ == "__main__":
    main()
