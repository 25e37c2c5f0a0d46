"""End-to-end latency of the demo graphs: from the t_origin of the newest sensor data that
led to a command to the command leaving the actuator, over at least 1,000 commands.

    python -m tools.bench.latency [--commands 1000]

Sources run faster than real time (`speed`) so that a thousand trials take minutes, not
hours; every chunk is still processed the way it is live, and latency is measured per
command on the host clock. Prints p50/p99 per graph from the actuator's figures.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

GRAPHS = {
    # graph, overrides, trials per command, aim for p99 (ms)
    "demo.yaml (event camera)": ("graphs/demo.yaml", ["camera.speed=4", "camera.n_trials={n}",
                                                      "gate.max_rate_hz=100"], 5.0),
    "eeg_motor_imagery.yaml (EEG)": ("graphs/eeg_motor_imagery.yaml", ["eeg.speed=30", "eeg.n_trials={n}",
                                                                       "gate.max_rate_hz=100",
                                                                       "gate.timeout_ms=60000"], 10.0),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=1000)
    args = ap.parse_args(argv)
    n = int(args.commands * 1.15) + 5  # a few trials end below the confidence floor: no command
    print(f"end-to-end latency, sensor data to command sent, >= {args.commands} commands per graph")
    print(f"{'graph':32} {'commands':>8} {'p50 ms':>8} {'p99 ms':>8} {'aim p99':>8}")
    hops = []
    with tempfile.TemporaryDirectory() as d:
        for label, (graph, sets, aim) in GRAPHS.items():
            stats = Path(d) / "stats.json"
            cmd = [sys.executable, "-m", "streamer", "run", graph, "--no-live", "--stats-json", str(stats)]
            for s in sets:
                cmd += ["--set", s.format(n=n)]
            subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            nodes = json.loads(stats.read_text())["nodes"]
            lat = nodes["out"]["latency_ms"]
            print(f"{label:32} {lat['count']:8d} {lat['p50']:8.2f} {lat['p99']:8.2f} {aim:8.1f}")
            hops.append((label, nodes))
    # Where it grows: each node's latency is from the sensor data's t_origin to its output.
    print("\nalong each chain (t_origin to each node's output, p50 / p99 ms):")
    for label, nodes in hops:
        chain = [(n, f["latency_ms"]) for n, f in nodes.items() if f.get("latency_ms", {}).get("count")]
        print(f"  {label}: " + ", ".join(f"{n} {v['p50']:.2f}/{v['p99']:.2f}" for n, v in chain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
