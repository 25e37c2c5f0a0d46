"""Transport across hosts with CURVE: the runtime against bare pyzmq with CURVE, on the
same link between two network namespaces (veth pairs to a bridge; needs root).

    python -m tools.bench.transport_curve [--repeats 3]

Ours: `streamer run` on the receiving host with the source on the other host through its
agent (`streamer agent`), the edge tcp with CURVE and the ZAP allow-list. Bare: a pyzmq
PUSH -> PULL over the same link, CURVE with a ZAP handler, the same high-water mark and
zero-copy sends. 1 KB and 1 MB throughput, then the p50/p99 latency of 1 KB at 1000
messages/s (one kernel, so one monotonic clock for both sides). Medians over the repeats;
the ratio is ours / bare.
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

from streamer import security
from tools.bench.transport import HWM, ROOT, throughput
from tools.netns import Lan, why_not

SIZES = {"1 KB": 1024, "1 MB": 1 << 20}
PORT = 6100


def counts_for(size: int) -> int:
    return max(2000, min(30_000, int(3e8 / size)))  # ~300 MB or 30k messages


def bare_receiver(endpoint: str, count: int, keys_dir: str, out: str) -> None:
    ctx = zmq.Context()
    guard = security.Guard(ctx, [security.public_key(keys_dir, "src")])
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVHWM, HWM)
    security.server(pull, security.key_pair(keys_dir, "dst").as_dict())
    pull.bind(endpoint)
    print("ready", flush=True)
    lat, nbytes, first, last = [], 0, None, None
    while len(lat) < count:
        if not pull.poll(60_000):
            raise RuntimeError(f"bare run stalled after {len(lat)} of {count} messages")
        frames = pull.recv_multipart(copy=False)
        t = time.monotonic()
        t_sent = float(np.frombuffer(frames[0].buffer, np.float64)[0])
        lat.append(t - t_sent)
        nbytes += len(frames[1])
        first = t_sent if first is None else first
        last = t
    Path(out).write_text(json.dumps({"n": len(lat), "bytes": nbytes, "first": first, "last": last, "latency": lat}))
    pull.close(0)
    guard.close()
    ctx.term()


def bare_sender(endpoint: str, size: int, count: int, rate_hz: float, keys_dir: str) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, HWM)
    security.client(s, security.key_pair(keys_dir, "src").as_dict(), security.public_key(keys_dir, "dst"))
    s.connect(endpoint)
    buf = np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8)
    time.sleep(0.3)
    t0 = time.monotonic()
    for i in range(count):
        if rate_hz:
            time.sleep(max(0.0, t0 + i / rate_hz - time.monotonic()))
        s.send_multipart([np.float64(time.monotonic()).tobytes(), buf], copy=False)
    s.close(linger=60_000)  # what is queued goes out before the process ends
    ctx.term()


def run_bare(lan: Lan, keys: Path, size: int, count: int, rate_hz: float, tmp: Path) -> dict:
    out = tmp / "bare.json"
    endpoint = f"tcp://{lan.address['dst']}:{PORT}"
    me = [sys.executable, "-m", "tools.bench.transport_curve"]
    rx = lan.start("dst", me + ["--bare-receiver", endpoint, str(count), str(keys), str(out)], cwd=ROOT,
                   stdout=subprocess.PIPE)
    assert rx.stdout.readline().strip() == b"ready"
    tx = lan.start("src", me + ["--bare-sender", endpoint, str(size), str(count), str(rate_hz), str(keys)], cwd=ROOT)
    rx.wait(timeout=300)
    tx.wait(timeout=60)
    return json.loads(out.read_text())


def run_ours(lan: Lan, keys: Path, size: int, count: int, rate_hz: float, tmp: Path) -> dict:
    out = tmp / "meter.json"
    graph = tmp / "bench.yaml"
    graph.write_text(f"""
name: transport-curve-bench
hosts: {{src: {lan.address['src']}, dst: {lan.address['dst']}}}
keys: {keys}
nodes:
  src: {{type: "tools.bench.transport_nodes:Blob", size_bytes: {size}, count: {count}, rate_hz: {rate_hz}, host: src}}
  meter: {{type: "tools.bench.transport_nodes:Meter", out: "{out}", host: dst}}
edges: [src -> meter]
""")
    run = lan.start("dst", [sys.executable, "-m", "streamer", "run", str(graph), "--host", "dst", "--no-live"],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if run.wait(timeout=600) != 0:
        raise RuntimeError(f"streamer run failed ({run.returncode})")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bare-receiver", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--bare-sender", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bare_receiver:
        e, count, keys, out = args.bare_receiver
        bare_receiver(e, int(count), keys, out)
        return 0
    if args.bare_sender:
        e, size, count, rate, keys = args.bare_sender
        bare_sender(e, int(size), int(count), float(rate), keys)
        return 0
    if why_not():
        print(f"transport_curve: {why_not()}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="streamer-bench-") as d:
        tmp = Path(d)
        keys = tmp / "keys"
        security.make_keys(keys, ["controller", "src", "dst"])
        lan = Lan(["src", "dst"])
        try:
            env_agent = lan.start("src", [sys.executable, "-m", "streamer", "agent", "--host", "src", "--keys",
                                          str(keys), "--listen", lan.address["src"]], cwd=ROOT,
                                  stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            assert env_agent.poll() is None, "the agent did not start"
            print(f"transport with CURVE between two network namespaces, {os.cpu_count()} cores, "
                  f"median of {args.repeats} runs")
            print(f"{'size':>6} {'ours MB/s':>10} {'bare MB/s':>10} {'ours msg/s':>11} {'bare msg/s':>11} {'ratio':>6}")
            for label, size in SIZES.items():
                count = counts_for(size)
                ours = [throughput(run_ours(lan, keys, size, count, 0, tmp)) for _ in range(args.repeats)]
                bare = [throughput(run_bare(lan, keys, size, count, 0, tmp)) for _ in range(args.repeats)]
                om, bm = statistics.median(o[0] for o in ours), statistics.median(b[0] for b in bare)
                on, bn = statistics.median(o[1] for o in ours), statistics.median(b[1] for b in bare)
                print(f"{label:>6} {om:10.1f} {bm:10.1f} {on:11.0f} {bn:11.0f} {om / bm:6.2f}")
            print("\nlatency, 1 KB at 1000 msg/s across the link, CURVE (µs)")
            print(f"{'':>6} {'p50':>8} {'p99':>8}")
            lat = {}
            for who, fn in (("ours", run_ours), ("bare", run_bare)):
                runs = [np.array(fn(lan, keys, 1024, 3000, 1000.0, tmp)["latency"][100:]) * 1e6
                        for _ in range(args.repeats)]
                lat[who] = (statistics.median(np.percentile(r, 50) for r in runs),
                            statistics.median(np.percentile(r, 99) for r in runs))
                print(f"{who:>6} {lat[who][0]:8.0f} {lat[who][1]:8.0f}")
            print(f"ratio p50 {lat['ours'][0] / lat['bare'][0]:.2f}, p99 {lat['ours'][1] / lat['bare'][1]:.2f}")
        finally:
            lan.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
