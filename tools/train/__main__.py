"""python -m tools.train --data synthetic-dvs|nmnist|synthetic-eeg|eegmmidb|recordings --out models/X.nir

--data recordings --data-dir DIR trains on one's own camera: DIR/<label>/<recording> (one
sample per file, any format dvs.file reads), binned as graphs/dvs_live.yaml bins the camera."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DATASETS = ("synthetic-dvs", "nmnist", "synthetic-eeg", "eegmmidb", "recordings")


def parse(argv: list[str] | None = None, prog: str = "python -m tools.train") -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__)
    ap.add_argument("--data", choices=DATASETS, required=True, help="what to train on")
    ap.add_argument("--out", type=Path, required=True, help="NIR file to write")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--arch", choices=("conv", "csnn", "dense"), default="conv",
                    help="conv: SumPool-Conv-Dense-Dense; csnn: Conv-Conv-Dense; dense: Dense-Dense (EEG uses dense)")
    ap.add_argument("--channels", type=int, default=8, help="conv channels")
    ap.add_argument("--hidden", type=int, default=64, help="hidden dense neurons")
    ap.add_argument("--beta", type=float, default=1.0, help="1: IF neurons; < 1: LIF decay per step")
    ap.add_argument("--trials", type=int, default=600, help="synthetic trials to generate")
    ap.add_argument("--limit", type=int, default=None, help="N-MNIST: use only the first N samples")
    ap.add_argument("--bin-ms", type=float, default=10.0, help="N-MNIST: bin width (one step)")
    ap.add_argument("--duration-ms", type=float, default=300.0, help="N-MNIST: binned span from the first event")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="N-MNIST or EEGMMIDB folder (default: the shared data); recordings: the folder "
                         "of <label>/<recording> sub-folders")
    ap.add_argument("--runs", type=int, nargs="+", default=[3, 7], help="EEGMMIDB: training runs (CSP and SNN)")
    ap.add_argument("--test-runs", type=int, nargs="+", default=[4, 8], help="EEGMMIDB: held-out runs")
    ap.add_argument("--val-run", type=int, default=None,
                    help="EEGMMIDB: one of --runs whose trials pick the epoch count (early stopping)")
    ap.add_argument("--ensemble", type=int, default=1,
                    help="EEGMMIDB: train N networks (seeds seed..seed+N-1) and merge them into one")
    ap.add_argument("--csp-pairs", type=int, default=2, help="EEGMMIDB: CSP filter pairs of the front end")
    ap.add_argument("--delta-threshold", type=float, default=0.5,
                    help="EEGMMIDB: send-on-delta threshold on the unit-variance CSP outputs")
    ap.add_argument("--bias", action=argparse.BooleanOptionalAction, default=True,
                    help="biases in the weight layers (--no-bias: the answer follows ratios of the input)")
    ap.add_argument("--weight-decay", type=float, default=0.0, help="AdamW's decoupled weight decay")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="amplitude augmentation: each sample times a factor in [1/scale, scale]")
    ap.add_argument("--loss-temperature", type=float, default=1.0,
                    help="output spike counts are divided by this in the loss (long windows: counts reach hundreds)")
    ap.add_argument("--loss-every", type=int, default=0,
                    help="average the loss over the counts after every N steps (0: the last step only); "
                         "trains a network that is right early, for early exit")
    ap.add_argument("--loss-steps", type=lambda t: tuple(int(v) for v in t.split(",")), default=(),
                    help="average the loss over the counts after these steps, e.g. 10,20,40,80,300 "
                         "(instead of --loss-every): as much weight on the first steps as early exit needs")
    ap.add_argument("--jitter-px", type=int, default=0,
                    help="augmentation: shift each event sample by up to N pixels in x and y")
    ap.add_argument("--drop", type=float, default=0.0, help="augmentation: drop each event with this probability")
    ap.add_argument("--time-jitter", type=int, default=0,
                    help="augmentation: shift each event sample by up to N steps earlier or later")
    ap.add_argument("--early-stopping", action="store_true",
                    help="event data: keep the weights of the epoch best on the held-out part of the "
                         "training samples (which then is no longer an unseen test)")
    ap.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant",
                    help="cosine: the learning rate falls to 0 along half a cosine over the training")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error("--epochs must be at least 1")
    if args.loss_steps and (args.loss_every or min(args.loss_steps) < 1):
        ap.error("--loss-steps takes positive steps and replaces --loss-every")
    if args.ensemble < 1:
        ap.error("--ensemble must be at least 1")
    return args


def load(args: argparse.Namespace):
    from .data import load_nmnist

    if args.data == "nmnist":
        from tools.datasets import data_path

        return load_nmnist(args.data_dir or data_path("nmnist"), args.bin_ms, args.duration_ms, limit=args.limit,
                           seed=args.seed)
    if args.data == "eegmmidb":
        from tools.datasets import data_path

        from .eegmmidb import load_eegmmidb

        return load_eegmmidb(args.data_dir or data_path("eeg"), args.runs, args.test_runs)
    if args.data == "recordings":
        from .recordings import load_recordings

        if args.data_dir is None:
            raise FileNotFoundError("--data recordings needs --data-dir, the folder of <label>/<recording> sub-folders")
        return load_recordings(args.data_dir, seed=args.seed)
    if args.data == "synthetic-dvs":
        from .synthetic import load_synthetic_dvs

        return load_synthetic_dvs(args.trials, args.seed)
    from .synthetic import load_synthetic_eeg

    return load_synthetic_eeg(args.trials, args.seed)


def main(argv: list[str] | None = None, prog: str = "python -m tools.train") -> int:
    args = parse(argv, prog)
    from tools.datasets import data_path

    try:
        import torch  # noqa: F401
    except ImportError:
        print("tools.train needs PyTorch: pip install 'streamer[train]' (torch==2.13.0)", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .export import write_nir
    from .fit import accuracy, seed_everything, train
    from .model import SNN, conv_arch, csnn_arch, dense_arch

    console = Console(stderr=True)
    seed_everything(args.seed, args.threads)
    t0 = time.monotonic()
    try:
        data = load(args)
    except (FileNotFoundError, ImportError, ValueError) as exc:
        console.print(f"[red]cannot load {args.data}: {exc}")
        return 2
    console.print(f"{args.data}: {len(data.y_train)} training, {len(data.y_test)} held-out samples, "
                  f"input {data.input_shape} x {data.x_train.shape[1]} steps of {data.dt_s * 1e3:g} ms, "
                  f"classes {data.classes} ({time.monotonic() - t0:.1f} s)")
    n = len(data.classes)
    image = len(data.input_shape) == 3
    arch = (conv_arch(n, args.channels, args.hidden) if args.arch == "conv" and image
            else csnn_arch(n, args.channels) if args.arch == "csnn" and image else dense_arch(n, args.hidden))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        if args.data == "eegmmidb":
            from .cross_run import Recipe, fit_runs

            recipe = Recipe(args.hidden, args.beta, args.bias, args.epochs, args.lr, args.batch, args.weight_decay,
                            args.scale, args.loss_temperature, args.ensemble, args.csp_pairs, args.delta_threshold)
            model, data, epochs, _ = fit_runs(args.data_dir or data_path("eeg"), args.runs, args.test_runs,
                                              args.val_run, recipe, args.seed, progress, console.print)
            data.meta["epochs_trained"] = epochs
        else:
            from .augment import Augment

            model = SNN(data.input_shape, arch, beta=args.beta, bias=args.bias)
            if args.early_stopping:
                data.x_val, data.y_val = data.x_test, data.y_test
            history = train(model, data, args.epochs, args.seed, args.lr, args.batch, progress, args.weight_decay,
                            args.scale, args.loss_temperature, args.loss_every,
                            Augment(args.jitter_px, args.drop, args.time_jitter), args.early_stopping,
                            args.lr_schedule == "cosine", args.loss_steps)
            if args.early_stopping:
                from .fit import best_epoch

                data.meta["epochs_trained"] = best_epoch(history)
    acc = accuracy(model, data.x_test, data.y_test)
    meta = {**data.meta, "classes": data.classes, "held_out_accuracy": acc, "seed": args.seed,
            "epochs": args.epochs, "command": "python -m tools.train " + " ".join(sys.argv[1:] if argv is None else argv)}
    write_nir(model, args.out, data.dt_s, meta)
    console.print(f"held-out accuracy {acc:.1%} on {len(data.y_test)} samples "
                  f"(train {accuracy(model, data.x_train, data.y_train):.1%}); wrote {args.out} "
                  f"in {time.monotonic() - t0:.0f} s")
    print(f"{acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
