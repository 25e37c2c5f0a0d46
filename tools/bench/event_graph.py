"""Event graph throughput: `dvs.file -> events.denoise -> events.bin -> record`, each node
in its own process, against the same kernels chained in one process without ZeroMQ.

The Gen4 EVT 3.0 recording (1280 x 720, about 25 Mev/s of device time) is tiled to at
least `--events` events as in tools/bench/events.py and replayed as fast as possible.
The graph's rate is the source's events over the time from its first chunk leaving to
the last frame recorded; nothing may be lost (every edge's loss counter is 0 and the
recorded frames hold every event the filter passed). Medians of `--repeats` runs. Each
node process's CPU time over that span (from /proc) is printed per source event: the
busiest process bounds the pipeline, and all of them together bound it on the cores
there are; these figures hold on a shared machine where the rates do not.

    .venv/bin/python -m tools.bench.event_graph [--events 50000000] [--repeats 3]
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


from drivers.dvs import open_events
from nodes.events.bin import Bin
from nodes.events.denoise import Denoise
from streamer import recording, streams
from tools.bench.events import tile_raw
from tools.bench.process_cpu import CpuSampler
from tools.datasets import data_path

ROOT = Path(__file__).resolve().parents[2]
SHAPE = [2, 180, 320]  # frames downscaled 4x: the SNN input, not the sensor


def graph_yaml(src: Path, rec: Path, chunk_us: int, bin_us: int) -> str:
    return f"""
name: event-throughput
nodes:
  camera: {{type: dvs.file, path: {src}, speed: 0, chunk_us: {chunk_us}}}
  denoise: {{type: events.denoise, window_us: 2000}}
  bins: {{type: events.bin, bin_us: {bin_us}, shape: {SHAPE}}}
  rec: {{type: record, path: {rec}}}
edges: [camera -> denoise, denoise -> bins, bins -> rec]
"""


def run_graph(src: Path, tmp: Path, chunk_us: int, bin_us: int) -> dict:
    rec, stats = tmp / "frames.rec", tmp / "stats.json"
    rec.unlink(missing_ok=True)
    graph = tmp / "graph.yaml"
    graph.write_text(graph_yaml(src, rec, chunk_us, bin_us))
    cmd = [sys.executable, "-m", "streamer", "run", str(graph), "--no-live", "--stats-json", str(stats)]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, text=True)
        cpu = CpuSampler(proc.pid)
        while proc.poll() is None:
            cpu.sample()
            time.sleep(0.02)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"graph failed ({proc.returncode}):\n{err.read()[-3000:]}")
    figures = json.loads(stats.read_text())
    nodes = figures["nodes"]
    first_sent = last_received = None
    recorded = 0
    for chunk in recording.Reader(rec):
        # A frame's t_origin is that of the newest events in it; the first frame's
        # events left the source about one bin after the first chunk did.
        recorded += int(chunk.message.data.sum())
        first_sent = chunk.message.t_origin if first_sent is None else first_sent
        last_received = chunk.t_received
    span = last_received - first_sent + bin_us * 1e-6 / 2  # first chunk left before the first frame's newest event
    lost = sum(e["lost"] for e in figures["edges"].values())
    return {"events": nodes["camera"]["out_items"], "passed": nodes["denoise"]["out_items"],
            "recorded": recorded, "lost": lost, "seconds": span,
            "cpu": cpu.between(first_sent - bin_us * 1e-6 / 2, last_received)}


def run_in_process(src: Path, chunk_us: int, bin_us: int) -> tuple[int, float]:
    """The same kernels, chained by plain calls in one process: the cost of the graph."""
    reader = open_events(src)
    den, bins = Denoise(window_us=2000), Bin(bin_us=bin_us, shape=SHAPE)
    for n in (den, bins):
        n.name = type(n).__name__
        n.start()
    width, height = reader.width, reader.height
    n = 0
    t = time.perf_counter()
    for ev in reader.chunks(1 << 22, duration_us=chunk_us):
        n += len(ev)
        bins.receive("in", den.receive("in", streams.events(ev, width=width, height=height)))
    bins.finish()
    return n, time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk-us", type=int, default=1000, help="device time per source chunk (µs)")
    ap.add_argument("--bin-us", type=int, default=10000)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "tiled.raw"
        tile_raw(data_path("events", "gen41_evt3.raw"), src, "EVT3", a.events)
        run_in_process(src, a.chunk_us, a.bin_us)  # compile, and the file in the page cache
        graph_rates, inproc_rates, cpu_runs = [], [], []
        for _ in range(a.repeats):
            r = run_graph(src, tmp, a.chunk_us, a.bin_us)
            if r["lost"] or r["recorded"] != r["passed"]:
                raise SystemExit(f"events lost: {r}")
            graph_rates.append(r["events"] / r["seconds"])
            n, s = run_in_process(src, a.chunk_us, a.bin_us)
            inproc_rates.append(n / s)
            print(f"  run: graph {graph_rates[-1] / 1e6:6.1f} Mev/s ({r['events']:,} events, "
                  f"{r['passed']:,} past the filter, all recorded, 0 lost)   one process {n / s / 1e6:6.1f} Mev/s",
                  flush=True)
            cpu_runs.append(r["cpu"])
            print("       CPU per source event while it ran: " + ", ".join(
                f"{node} {c / r['events'] * 1e9:.1f} ns ({100 * c / r['seconds']:.0f}% of a core)"
                for node, c in r["cpu"].items()), flush=True)
        g, p = statistics.median(graph_rates), statistics.median(inproc_rates)
        print(f"dvs.file -> events.denoise -> events.bin -> record, chunks of {a.chunk_us} µs, "
              f"median of {a.repeats}: graph {g / 1e6:.1f} Mev/s, one process {p / 1e6:.1f} Mev/s, "
              f"ratio {g / p:.2f}")
        # What bounds the graph: the busiest process (the pipeline runs at its pace) and
        # the CPU of all of them against the cores there are.
        cpu = {node: statistics.median(run.get(node, 0.0) for run in cpu_runs) for node in cpu_runs[0]}
        events = r["events"]
        busiest = max(cpu, key=cpu.get)
        print(f"CPU per source event, median: " + ", ".join(f"{node} {c / events * 1e9:.1f} ns"
                                                          for node, c in cpu.items())
              + f"; all {sum(cpu.values()) / events * 1e9:.1f} ns on {os.cpu_count()} cores "
              f"(bound {os.cpu_count() / sum(cpu.values()) * events / 1e6:.0f} Mev/s), busiest {busiest} "
              f"(bound {events / cpu[busiest] / 1e6:.0f} Mev/s)")


if __name__ == "__main__":
    main()
