"""Steps per second of the N-MNIST CNN (cnn_sinabs.nir) in coprocessor.loihi (Lava's
fixed-point simulator) against snn.infer (our Numba engine), same samples, same decisions.

Both run as nodes on the same real N-MNIST samples (1 ms bins, Dynamic Confidence off so
every sample runs `--steps` steps); the Lava side runs in the Lava interpreter (Python
3.10, tools/envs/make_lava_env.sh) as a subprocess of this script. Prints the median
steps per second of each, their ratio, and how often their decisions agree.

    python -m tools.bench.coprocessors [--samples 10] [--steps 100]

`--worker` is the part run inside the Lava interpreter; it prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL = "nir/02_cnn/cnn_sinabs.nir"


def lava_python() -> Path:
    """The Lava interpreter: $STREAMER_LAVA_PYTHON, else .venv-lava at the repository root."""
    return Path(os.environ.get("STREAMER_LAVA_PYTHON") or ROOT / ".venv-lava" / "bin" / "python")


def samples(ids: list[int], steps: int):
    from tools.calibrate import nmnist_frames
    from tools.datasets import data_path
    root = data_path("nmnist")
    labels = dict(np.loadtxt(root / "labels.txt", dtype=np.int64))
    return [(nmnist_frames(root / f"{i}.bin", steps), int(labels[i])) for i in ids]


def run_node(node, data, steps: int) -> dict:
    """Feed each sample as a Marker (a new sample starts) and one Frames message; the
    sample's decision (the first one) and its seconds."""
    from streamer.streams import frames as make_frames
    from streamer.streams import marker
    from streamer.testing import feed
    out, secs = [], []
    for frames, _ in data:
        t0 = time.perf_counter()
        got = feed(node, [("markers", marker("sample")), ("in", make_frames(frames, bin_us=1000))])
        got = got.get("decision") or (node.finish() or {}).get("decision", [])
        secs.append(time.perf_counter() - t0)
        out.append({"index": got[0].data["index"], "steps": got[0].data["steps"]})
    return {"decisions": out, "seconds": secs}


def params(model: str, steps: int, early_exit: dict | None) -> dict:
    ee = early_exit or {"policy": "none", "max_steps": steps}
    return {"model": model, "dt_s": 1e-3, "convention": "nir", "early_exit": ee}


def worker(args) -> None:
    from nodes.coprocessors.loihi_node import Loihi
    ids = [int(i) for i in args.ids.split(",")]
    node = Loihi(**params(args.model, args.steps, json.loads(args.early_exit) if args.early_exit else None))
    t0 = time.perf_counter()
    node.start()
    start_s = time.perf_counter() - t0
    try:
        res = run_node(node, samples(ids, args.steps), args.steps)
    finally:
        node.stop()
    res.update(start_s=start_s, quantization=node.quantization, backend=node.backend.label,
               counters=dict(node.counters), depth=node.backend.depth)
    print("RESULT " + json.dumps(res))


def run_lava(model: str, ids: list[int], steps: int, early_exit: dict | None = None,
             timeout_s: float = 600) -> dict:
    """Run the worker in the Lava interpreter; its JSON result."""
    cmd = [str(lava_python()), "-m", "tools.bench.coprocessors", "--worker", "--model", model,
           "--ids", ",".join(map(str, ids)), "--steps", str(steps)]
    if early_exit:
        cmd += ["--early-exit", json.dumps(early_exit)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"Lava worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def run_ours(model: str, data, steps: int, early_exit: dict | None = None) -> dict:
    from nodes.snn.infer_node import Infer
    node = Infer(**params(model, steps, early_exit))
    node.start()
    try:
        return run_node(node, data, steps)
    finally:
        node.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default=None)
    ap.add_argument("--ids", default="")
    ap.add_argument("--early-exit", default="")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    from tools.datasets import data_path
    model = str(data_path(MODEL))
    ids = list(range(1, args.samples + 1))
    data = samples(ids, args.steps)
    if not lava_python().exists():
        sys.exit(f"no Lava interpreter at {lava_python()}: run `bash tools/envs/make_lava_env.sh`")
    lava = run_lava(model, ids, args.steps)
    ours = run_ours(model, data, args.steps)
    lava_sps = args.steps / np.array(lava["seconds"])
    ours_sps = args.steps / np.array(ours["seconds"])
    agree = np.mean([a["index"] == b["index"] for a, b in zip(lava["decisions"], ours["decisions"])])
    correct = lambda res: np.mean([d["index"] == y for d, (_, y) in zip(res["decisions"], data)])  # noqa: E731
    print(f"cnn_sinabs.nir, {len(ids)} N-MNIST samples x {args.steps} steps of 1 ms, batch 1")
    print(f"  Lava {lava['backend']}: median {np.median(lava_sps):9.1f} steps/s "
          f"(start {lava['start_s']:.1f} s, +{lava['depth']} pipeline steps per sample), accuracy {correct(lava):.2f}")
    print(f"  ours (snn.infer, Numba): median {np.median(ours_sps):9.1f} steps/s, accuracy {correct(ours):.2f}")
    print(f"  ratio ours/Lava: {np.median(ours_sps) / np.median(lava_sps):.1f}x; decisions agree on {agree:.0%}")
    print("  quantisation (relative RMS of weights per layer): " +
          ", ".join(f"{q['layer']}:{q['weight_rel_rms']:.4f}" for q in lava["quantization"]))


if __name__ == "__main__":
    main()
