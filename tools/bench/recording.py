"""Recording benchmark: our writer against the plainest ways of putting the same data on
disk, and the rate of replay.

    python -m tools.bench.recording [--repeats 5] [--seconds 30] [--dir /tmp]

The data is a multi-stream session of `--seconds` (30 s: 13,335 chunks, 6.2 MB):
events at 150 chunks/s, 8-channel EEG at 250 Hz in chunks of 4 samples, SNN input frames
and decisions at 100/s, commands at 30/s, markers at 2/s.

Writing (chunks/s, MB/s; medians over the repeats, each on a fresh file): our writer
with fsync never, periodic (every second, in a background thread) and every chunk,
against `os.write` of the very bytes our writer wrote, one call per chunk (the cost of
the writes alone: no packing, no checksums), with the same fsync policy, and against
h5py appending each message to resizable datasets (items as JSON strings). Every run
ends with the file forced to the disk except fsync never. The ratio is ours / comparator.

Reading and replay: `Reader` over the file and `recording.read()`; the `replay` node at
speed 0 driven in-process (messages/s and how many times faster than real time), for the
session and for one four times as long (the same rate: time linear in the length); and
replay -> record as two processes through `streamer run` (messages/s from the first
message the recorder received to the last). Last, replay's pacing at speed 1: the error
of each interval between replayed messages against the recorded one.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from streamer import recording, streams
from streamer.record_nodes import Replay
from streamer.recording import Reader, Writer
from streamer.testing import run as run_node

ROOT = Path(__file__).resolve().parents[2]


def session(seconds: float, seed: int = 0) -> list[tuple[str, streams.Message]]:
    """The messages of a DVS + EEG + SNN session, in time order, t_origin set."""
    rng = np.random.default_rng(seed)
    t0 = 1000.0
    out: list[tuple[float, str, streams.Message]] = []

    def every(rate_hz: float):
        return t0 + np.arange(int(seconds * rate_hz)) / rate_hz

    for i, t in enumerate(every(150)):
        ev = streams.as_events(rng.integers(0, 64, 30), rng.integers(0, 64, 30), rng.integers(0, 2, 30),
                               np.sort(rng.integers(0, 6667, 30)) + int((t - t0) * 1e6))
        out.append((t, "events", streams.events(ev, width=64, height=64, t_origin=t)))
    for i, t in enumerate(every(62.5)):
        out.append((t, "eeg", streams.samples(rng.normal(size=(8, 4)) * 1e-5, sfreq=250.0,
                                              ch_names=[f"E{c}" for c in range(8)], t_first_s=i * 4 / 250,
                                              first_sample=i * 4, t_origin=t)))
    for i, t in enumerate(every(100)):
        out.append((t, "frames", streams.frames(rng.random((1, 2, 8, 8), dtype=np.float32), bin_us=10000,
                                                t_first_us=i * 10000, t_origin=t)))
        p = rng.dirichlet(np.ones(4))
        out.append((t, "decisions", streams.decision(int(p.argmax()), "abcd"[p.argmax()], p, float(p.max()),
                                                     i % 30, model="shapes", policy="dynamic_confidence",
                                                     t_origin=t)))
    for i, t in enumerate(every(30)):
        out.append((t, "commands", streams.command("left", 0.5, safety="allowed", t_origin=t)))
    for i, t in enumerate(every(2)):
        out.append((t, "markers", streams.marker(f"T{i % 3}", i, time_s=t - t0, t_origin=t)))
    out.sort(key=lambda x: x[0])
    return [(name, m) for _, name, m in out]


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def write_ours(path: Path, msgs: list, fsync: str) -> None:
    w = Writer(path, fsync=fsync)
    for name, m in msgs:
        w.write(name, m, m.t_origin)
    w.close()


def write_plain(path: Path, pieces: list[bytes], fsync: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    last = time.monotonic()
    for b in pieces:
        os.write(fd, b)
        if fsync == "chunk":
            os.fdatasync(fd)
        elif fsync == "periodic" and time.monotonic() - last >= 1.0:
            os.fdatasync(fd)
            last = time.monotonic()
    if fsync != "never":
        os.fdatasync(fd)
    os.close(fd)


def write_h5py(path: Path, msgs: list, fsync: str) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        sets: dict[str, h5py.Dataset] = {}
        last = time.monotonic()
        for name, m in msgs:
            if m.stream in streams.ITEM_STREAMS:
                data = np.array([json.dumps(m.data)], dtype=h5py.string_dtype())
            elif m.stream == streams.SAMPLES:
                data = m.data.T  # appended along the first axis
            else:
                data = m.data
            d = sets.get(name)
            if d is None:
                d = sets[name] = f.create_dataset(name, data=data, maxshape=(None,) + data.shape[1:],
                                                  chunks=True)
            else:
                n = d.shape[0]
                d.resize(n + len(data), axis=0)
                d[n:] = data
            if fsync == "chunk" or (fsync == "periodic" and time.monotonic() - last >= 1.0):
                sync_h5(f)
                last = time.monotonic()
        if fsync != "never":
            sync_h5(f)


def sync_h5(f) -> None:
    """HDF5's flush hands the data to the kernel; the disk needs an fsync as well."""
    f.flush()
    os.fdatasync(f.id.get_vfd_handle())


def chunk_bytes(path: Path) -> list[bytes]:
    """The bytes of each chunk our writer wrote (the magic goes with the first)."""
    data = path.read_bytes()
    offsets = [0] + [c.offset for c in Reader(path)][1:] + [len(data)]
    return [data[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def median_rate(times: list[float], n: float) -> float:
    return n / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--dir", default=None, help="folder for the files (its disk is what fsync waits for)")
    args = ap.parse_args()
    msgs = session(args.seconds)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp_name:
        tmp = Path(tmp_name)
        ref = tmp / "session.rec"
        write_ours(ref, msgs, "never")
        pieces = chunk_bytes(ref)
        n, mb = len(msgs), ref.stat().st_size / 1e6
        print(f"{args.seconds:.0f} s session: {n} chunks, {mb:.2f} MB; files in {tmp} "
              f"({subprocess.run(['stat', '-f', '-c', '%T', str(tmp)], capture_output=True, text=True).stdout.strip()}); "
              f"medians of {args.repeats}")
        print(f"\n{'writing':34} {'chunks/s':>10} {'MB/s':>8}   {'ratio':>6}")
        for fsync in ("never", "periodic", "chunk"):
            # Every chunk waits for the disk: the first tenth of the session is enough.
            k = n if fsync != "chunk" else n // 10
            times: dict[str, list[float]] = {"ours": [], "os.write": [], "h5py": []}
            for r in range(args.repeats):
                times["ours"].append(timed(lambda: write_ours(tmp / f"o{r}.rec", msgs[:k], fsync)))
                times["os.write"].append(timed(lambda: write_plain(tmp / f"p{r}.bin", pieces[:k], fsync)))
                times["h5py"].append(timed(lambda: write_h5py(tmp / f"h{r}.h5", msgs[:k], fsync)))
                for f in tmp.glob("[oph][0-9]*"):
                    f.unlink()
            ours = median_rate(times["ours"], k)
            for who in ("ours", "os.write", "h5py"):
                rate = median_rate(times[who], k)
                ratio = "" if who == "ours" else f"{ours / rate:6.2f}"
                print(f"  {who + ', fsync ' + fsync:32} {rate:10,.0f} {rate * mb / n:8.1f}   {ratio:>6}")

        print(f"\n{'reading':34} {'chunks/s':>10} {'MB/s':>8}")
        t_iter = [timed(lambda: sum(1 for _ in Reader(ref))) for _ in range(args.repeats)]
        t_read = [timed(lambda: recording.read(ref)) for _ in range(args.repeats)]
        for who, t in (("Reader (every chunk checked)", t_iter), ("recording.read (concatenated)", t_read)):
            rate = median_rate(t, n)
            print(f"  {who:32} {rate:10,.0f} {rate * mb / n:8.1f}")

        print(f"\n{'replay at speed 0':34} {'msgs/s':>10} {'x real time':>12}")
        long = tmp / "long.rec"
        write_ours(long, session(4 * args.seconds, seed=1), "never")
        for label, path, secs in (("node, session", ref, args.seconds), ("node, 4x as long", long, 4 * args.seconds)):
            times, count = [], 0
            for _ in range(args.repeats):
                t = time.perf_counter()
                count = sum(len(v) for v in run_node(Replay(path=str(path), speed=0)).values())
                times.append(time.perf_counter() - t)
            rate = median_rate(times, count)
            print(f"  {label:32} {rate:10,.0f} {secs / statistics.median(times):12.0f}")
        rates = []
        for r in range(args.repeats):
            rates.append(replay_graph(ref, tmp, r))
        rate = statistics.median(rates)
        print(f"  {'graph replay -> record':32} {rate:10,.0f} {args.seconds * rate / n:12.0f}")

        errors = [pacing_errors_ms(tmp / "paced.rec") for _ in range(args.repeats)]
        print(f"\nreplay at speed 1, 150 messages 2-20 ms apart: interval error median "
              f"{statistics.median(e[0] for e in errors):.3f} ms, p95 {statistics.median(e[1] for e in errors):.3f} ms")


def pacing_errors_ms(path: Path) -> tuple[float, float]:
    """(median, p95) of |replayed - recorded| intervals, in-process at speed 1."""
    w = Writer(path, fsync="never")
    t = streams.now() + np.cumsum(np.random.default_rng(0).uniform(0.002, 0.02, 150))
    for i, ti in enumerate(t):
        w.write("x", streams.marker("x", i, t_origin=float(ti)), float(ti))
    w.close()
    out = np.array([m.t_origin for m in run_node(Replay(path=str(path), speed=1.0))["x"]])
    err = np.abs(np.diff(out) - np.diff(t)) * 1e3
    return float(np.median(err)), float(np.percentile(err, 95))


def replay_graph(path: Path, tmp: Path, r: int) -> float:
    graph = tmp / "replay.yaml"
    names = recording.streams_of(path)
    edges = ", ".join(f"replay.{s} -> rec.{s}" for s in names)
    graph.write_text(f"""
name: replay-bench
nodes:
  replay: {{type: replay, path: "{path}", speed: 0}}
  rec: {{type: record, path: "{tmp / f'copy{r}.rec'}", fsync: never}}
edges: [{edges}]
""")
    subprocess.run([sys.executable, "-m", "streamer", "run", str(graph), "--no-live"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # From the first message received to the last, as the copy's receive times say
    # (the start and the end of the processes are not replay).
    t = recording.read(tmp / f"copy{r}.rec")
    received = np.concatenate([rec.t_received for rec in t.values()])
    return len(received) / (received.max() - received.min())


if __name__ == "__main__":
    main()
