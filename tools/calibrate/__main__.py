"""Command line of tools.calibrate: sweep, table, choice, Pareto plot, config file."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


import nodes.snn as snn

from nodes.snn.early_exit import MEMBRANE_READOUTS, READOUTS

from . import Dataset, choose, full_window_accuracy, pareto, parse_ids, readout_traces, sweep

# Wide enough for every readout: mean spike counts and membranes are fractions, counts
# summed over 300 steps reach hundreds.
TEMPERATURES = "0.01,0.02,0.05,0.1,0.2,0.5,1,2,5,10,15,20,30,50,100"
THRESHOLDS = "0.3,0.4,0.5,0.6,0.7,0.8,0.85,0.9,0.95,0.97,0.99,0.995,0.999"


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"expected comma-separated numbers, got {text!r}") from None


def _table(rows, chosen, full_steps: int) -> str:
    lines = [f"{'readout':>13} {'temperature':>11} {'threshold':>9} {'accuracy':>8} {'mean steps':>10} {'speed-up':>8}"]
    for r in rows:
        mark = "  <- chosen" if r == chosen else ""
        lines.append(f"{r.readout:>13} {r.temperature:11.3g} {r.threshold:9.4g} {100 * r.accuracy:7.1f}% "
                     f"{r.mean_steps:10.1f} {r.speedup:7.2f}x{mark}")
    return "\n".join(lines)


def _plot(rows, front, chosen, full_acc: float, full_steps: int, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path}", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r.mean_steps for r in rows], [100 * r.accuracy for r in rows], s=10, c="0.7",
               label="(readout, temperature, threshold)")
    ax.plot([r.mean_steps for r in front], [100 * r.accuracy for r in front], "o-", c="C0",
            label="Pareto front")
    ax.scatter([full_steps], [100 * full_acc], marker="s", c="k", label="full window")
    if chosen is not None:
        ax.scatter([chosen.mean_steps], [100 * chosen.accuracy], marker="*", s=150, c="C3",
                   label=f"chosen {chosen.readout}, T={chosen.temperature:g}, θ={chosen.threshold:g}")
    ax.set_xlabel("mean steps per sample")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Dynamic Confidence: accuracy vs latency")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _write_config(path: Path, config: dict) -> None:
    if path.suffix in (".yaml", ".yml"):
        import yaml
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    else:
        path.write_text(json.dumps(config, indent=2) + "\n")


def main(argv: list[str] | None = None, prog: str = "python -m tools.calibrate") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__)
    ap.add_argument("--model", required=True, help="NIR file")
    ap.add_argument("--data", required=True, help="N-MNIST folder (<id>.bin + labels.txt) or .npz")
    ap.add_argument("--ids", default=None, help="calibration sample ids, e.g. 1-500 (default: all)")
    ap.add_argument("--score-ids", default=None, help="held-out ids scored with the chosen config")
    ap.add_argument("--convention", default="nir", help="spike/reset rules (nir, sinabs, snntorch, norse)")
    ap.add_argument("--dt-s", type=float, default=1e-3, help="simulation step and bin width (s)")
    ap.add_argument("--steps", type=int, default=300, help="full window (max_steps)")
    ap.add_argument("--min-steps", type=int, default=1)
    ap.add_argument("--readouts", default=",".join(READOUTS),
                    help=f"readouts searched, of {', '.join(READOUTS)} (membrane ones need an output membrane)")
    ap.add_argument("--temperatures", default=TEMPERATURES)
    ap.add_argument("--thresholds", default=THRESHOLDS)
    ap.add_argument("--budget-points", type=float, default=1.0,
                    help="accuracy loss allowed vs the full window, in percentage points")
    ap.add_argument("--margin-se", type=float, default=0.0,
                    help="count each setting's accuracy lost this many standard errors of the paired "
                         "difference (sqrt(samples that flip) / samples) more: a choice that holds on "
                         "samples not calibrated on (1 is about a one-sided 84%% bound)")
    ap.add_argument("--out", default="dynamic_confidence.yaml", help="config file (.yaml or .json)")
    ap.add_argument("--plot", default="dynamic_confidence.png", help="Pareto plot (PNG); '' for none")
    ap.add_argument("--cache", default=".cache/calibrate", help="folder of cached traces; '' for none")
    args = ap.parse_args(argv)

    try:
        net = snn.load(args.model, dt=args.dt_s, convention=args.convention)
        data = Dataset(args.data, args.steps, args.dt_s)
        ids = parse_ids(args.ids) if args.ids else data.ids()
        score_ids = parse_ids(args.score_ids) if args.score_ids else []
        readouts = [r.strip() for r in args.readouts.split(",") if r.strip()]
        unknown = [r for r in readouts if r not in READOUTS]
        if unknown or not readouts:
            raise ValueError(f"--readouts {args.readouts!r}: choose among {', '.join(READOUTS)}")
        if getattr(net.readout_layer, "v", None) is None:
            readouts = [r for r in readouts if r not in MEMBRANE_READOUTS]  # no membrane to read
        missing = [i for i in ids + score_ids if i not in data.labels]
        if missing:
            raise ValueError(f"sample ids {missing[:5]}{'...' if len(missing) > 5 else ''} are not in {args.data}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    overlap = sorted(set(ids) & set(score_ids))
    if overlap:
        print(f"warning: {len(overlap)} samples are both calibrated and scored", file=sys.stderr)
    cache = args.cache or None
    # The reference is the network's own answer: output spikes counted over the full window.
    counts, labels = readout_traces(net, data, ids, "spikes", cache)
    full_acc = full_window_accuracy(counts, labels, args.steps)
    full_answer = counts[:, min(args.steps, counts.shape[1]) - 1].argmax(axis=1)
    rows, traces = [], {}
    for readout in readouts:
        traces[readout], labels = readout_traces(net, data, ids, readout, cache)
        rows += sweep(traces[readout], labels, _floats(args.temperatures), _floats(args.thresholds),
                      args.min_steps, args.steps, readout, full_answer)
    chosen = choose(rows, full_acc, args.budget_points / 100, args.margin_se)
    print(f"calibration: {len(ids)} samples, full window {args.steps} steps: "
          f"accuracy {100 * full_acc:.1f}%")
    print(_table(rows, chosen, args.steps))
    front = pareto(rows)
    if args.plot:
        if _plot(rows, front, chosen, full_acc, args.steps, Path(args.plot)):
            print(f"Pareto plot: {args.plot}")
    if chosen is None:
        print(f"no (readout, temperature, threshold) keeps accuracy within {args.budget_points} points; "
              f"try higher thresholds", file=sys.stderr)
        return 1
    early_exit = {"policy": "dynamic_confidence", "threshold": chosen.threshold,
                  "temperature": chosen.temperature, "min_steps": args.min_steps,
                  "max_steps": args.steps}
    report = {"model": str(args.model), "convention": args.convention, "dt_s": args.dt_s,
              "readouts_searched": readouts, "chosen_readout": chosen.readout,
              "samples": len(ids), "full_window_accuracy": full_acc,
              "accuracy": chosen.accuracy, "mean_steps": chosen.mean_steps,
              "speedup": chosen.speedup, "budget_points": args.budget_points, "margin_se": args.margin_se,
              "flips": chosen.flips}
    print(f"chosen: readout {chosen.readout}, temperature {chosen.temperature:g}, "
          f"threshold {chosen.threshold:g}: accuracy "
          f"{100 * chosen.accuracy:.1f}% in {chosen.mean_steps:.1f} steps ({chosen.speedup:.2f}x)")
    if score_ids:
        s_traces, s_labels = readout_traces(net, data, score_ids, chosen.readout, cache)
        s_counts = readout_traces(net, data, score_ids, "spikes", cache)[0]
        s_full = full_window_accuracy(s_counts, s_labels, args.steps)
        s_row = sweep(s_traces, s_labels, [chosen.temperature], [chosen.threshold], args.min_steps, args.steps,
                      chosen.readout, s_counts[:, min(args.steps, s_counts.shape[1]) - 1].argmax(axis=1))[0]
        print(f"held out: {len(score_ids)} samples: full window {100 * s_full:.1f}%, early exit "
              f"{100 * s_row.accuracy:.1f}% in {s_row.mean_steps:.1f} steps "
              f"({100 * (1 - s_row.mean_steps / args.steps):.1f}% fewer, {s_row.speedup:.2f}x); "
              f"{s_row.flips} samples right in one and wrong in the other")
        report.update(held_out_samples=len(score_ids), held_out_full_window_accuracy=s_full,
                      held_out_accuracy=s_row.accuracy, held_out_mean_steps=s_row.mean_steps,
                      held_out_flips=s_row.flips)
    # The first keys are snn.infer parameters as they are; "calibration" is the record.
    _write_config(Path(args.out), {"convention": args.convention, "dt_s": args.dt_s,
                                   "readout": chosen.readout, "early_exit": early_exit,
                                   "calibration": report})
    print(f"config: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
