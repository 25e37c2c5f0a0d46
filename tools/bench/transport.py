"""Transport benchmark: the runtime between two node processes against bare pyzmq.

    python -m tools.bench.transport [--repeats 3]

For 1 KB, 64 KB and 1 MB messages: throughput (MB/s, messages/s) of a source process
sending as fast as it can to a sink process through `streamer run` (wire format, sequence
numbers, lossless flow control, statistics), and of two bare pyzmq processes doing
PUSH/PULL over ipc with the same high-water mark and zero-copy sends. Then latency of
small messages at 1000 messages/s over ipc, both ways. Medians over the repeats; the
ratio is ours / bare.
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

import numpy as np
import zmq

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"1 KB": 1024, "64 KB": 65536, "1 MB": 1 << 20}
HWM = 64


def counts_for(size: int) -> int:
    return max(2000, min(100_000, int(2e9 / 2 / size)))  # ~1 GB or 100k messages


def run_ours(size: int, count: int, rate_hz: float, tmp: Path) -> dict:
    out = tmp / "meter.json"
    graph = tmp / "bench.yaml"
    graph.write_text(f"""
name: transport-bench
nodes:
  src: {{type: "tools.bench.transport_nodes:Blob", size_bytes: {size}, count: {count}, rate_hz: {rate_hz}}}
  meter: {{type: "tools.bench.transport_nodes:Meter", out: "{out}"}}
edges: [src -> meter]
""")
    subprocess.run([sys.executable, "-m", "streamer", "run", str(graph), "--no-live"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def bare_sender(endpoint: str, size: int, count: int, rate_hz: float) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, HWM)
    s.connect(endpoint)
    buf = np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8)
    time.sleep(0.3)
    t0 = time.monotonic()
    for i in range(count):
        if rate_hz:
            time.sleep(max(0.0, t0 + i / rate_hz - time.monotonic()))
        s.send_multipart([np.float64(time.monotonic()).tobytes(), buf], copy=False)
    # Stay until the receiver has it all: ZeroMQ drops queued messages at exit.
    ack = ctx.socket(zmq.PULL)
    ack.connect(endpoint + "-ack")
    ack.poll(120_000)
    ack.close(0)
    s.close(0)
    ctx.term()


def run_bare(size: int, count: int, rate_hz: float, tmp: Path) -> dict:
    endpoint = f"ipc://{tmp}/bare"
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVHWM, HWM)
    pull.bind(endpoint)
    proc = subprocess.Popen([sys.executable, "-m", "tools.bench.transport", "--bare-sender", endpoint,
                             str(size), str(count), str(rate_hz)], cwd=ROOT)
    ack = ctx.socket(zmq.PUSH)
    ack.bind(endpoint + "-ack")
    lat, nbytes, first, last = [], 0, None, None
    while len(lat) < count:
        if not pull.poll(30_000):
            raise RuntimeError(f"bare pyzmq run stalled after {len(lat)} of {count} messages")
        frames = pull.recv_multipart(copy=False)
        t = time.monotonic()
        t_sent = float(np.frombuffer(frames[0].buffer, np.float64)[0])
        lat.append(t - t_sent)
        nbytes += len(frames[1])
        first = t_sent if first is None else first
        last = t
    ack.send(b"done")
    proc.wait()
    ack.close(0)
    pull.close()
    ctx.term()
    return {"n": len(lat), "bytes": nbytes, "first": first, "last": last, "latency": lat}


def throughput(r: dict) -> tuple[float, float]:
    dt = r["last"] - r["first"]
    return r["bytes"] / dt / 1e6, r["n"] / dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", nargs="*", default=list(SIZES), help="any of: " + ", ".join(SIZES))
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--bare-sender", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bare_sender:
        e, size, count, rate = args.bare_sender
        bare_sender(e, int(size), int(count), float(rate))
        return 0
    print(f"transport benchmark, {os.cpu_count()} cores, median of {args.repeats} runs")
    print(f"{'size':>6} {'ours MB/s':>10} {'bare MB/s':>10} {'ours msg/s':>11} {'bare msg/s':>11} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="streamer-bench-") as d:
        tmp = Path(d)
        for label, size in SIZES.items():
            if label not in args.sizes:
                continue
            count = counts_for(size)
            ours = [throughput(run_ours(size, count, 0, tmp)) for _ in range(args.repeats)]
            bare = [throughput(run_bare(size, count, 0, tmp)) for _ in range(args.repeats)]
            om, bm = statistics.median(o[0] for o in ours), statistics.median(b[0] for b in bare)
            on, bn = statistics.median(o[1] for o in ours), statistics.median(b[1] for b in bare)
            print(f"{label:>6} {om:10.0f} {bm:10.0f} {on:11.0f} {bn:11.0f} {om / bm:6.2f}")
        if args.no_latency:
            return 0
        print("\nlatency, 1 KB at 1000 msg/s over ipc (µs)")
        print(f"{'':>6} {'p50':>8} {'p99':>8}")
        lat = {}
        for who, fn in (("ours", run_ours), ("bare", run_bare)):
            runs = [np.array(fn(1024, 3000, 1000.0, tmp)["latency"][100:]) * 1e6 for _ in range(args.repeats)]
            lat[who] = (statistics.median(np.percentile(r, 50) for r in runs),
                        statistics.median(np.percentile(r, 99) for r in runs))
            print(f"{who:>6} {lat[who][0]:8.0f} {lat[who][1]:8.0f}")
        print(f"ratio p50 {lat['ours'][0] / lat['bare'][0]:.2f}, p99 {lat['ours'][1] / lat['bare'][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
