"""`streamer eval graph.yaml --data ...`: the command line of streamer.evaluation."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..graph import GraphError
from .evaluate import SPLITS, EvalError, evaluate


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="judge a decoding graph on recordings, pseudo-online (splits, metrics, report)",
                       description="Run a graph's decoding path on recordings as fast as the CPU allows and judge "
                       "each decoder's first decision after every cue: accuracy, balanced accuracy, Cohen's kappa, "
                       "normalised MCC, Wolpaw ITR from each trial's decision time, confusion matrix, decision "
                       "times, chance level with binomial and permutation p-values. Writes OUT/eval.json, "
                       "OUT/eval.html and a PNG per decoder. Exit status 2 with the reason when it cannot.")
    p.add_argument("graph", help="graph file (YAML)")
    p.add_argument("--data", nargs="+", metavar="FILE", help="recordings for the source (default: the graph's own)")
    p.add_argument("--split", choices=SPLITS, default="stream",
                   help="stream: the graph as it is (default); within-session: stratified k-fold per session; "
                        "cross-session / cross-run: each session / recording held out in turn")
    p.add_argument("--decoder", action="append", dest="decoders", metavar="NODE",
                   help="decoder to judge (repeatable; default: every node with a Decision output)")
    p.add_argument("--source", metavar="NODE", help="the node that reads the recordings (default: the only one)")
    p.add_argument("--classes", metavar="CUE=LABEL,...",
                   help="which decision answers which cue, e.g. T1=left,T2=right (default: the decoder's own)")
    p.add_argument("--skip-trials", type=int, default=0, metavar="N",
                   help="leave the first N trials out of the figures (a network's training trials)")
    p.add_argument("--folds", type=int, default=5, help="folds of within-session (default 5, MOABB's)")
    p.add_argument("--seed", type=int, default=42, help="shuffling of the folds (default 42)")
    p.add_argument("--permutations", type=int, default=10000, help="label shuffles of the permutation test")
    p.add_argument("--out", default="eval", metavar="DIR", help="folder of the report (default ./eval)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a node parameter, as in streamer run")
    p.set_defaults(func=cmd_eval)


def _classes(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    pairs = [p.split("=", 1) for p in text.split(",") if p]
    bad = [p for p in pairs if len(p) != 2 or not all(p)]
    if bad:
        raise EvalError(f"--classes takes CUE=LABEL pairs separated by commas, got {text!r}")
    return dict(pairs)


def cmd_eval(args: argparse.Namespace) -> int:
    from .report import summary, write_html, write_json, write_png

    try:
        result = evaluate(args.graph, args.data, args.split, decoders=args.decoders, source=args.source,
                          classes=_classes(args.classes), skip_trials=args.skip_trials, n_folds=args.folds,
                          seed=args.seed, sets=args.sets, n_permutations=args.permutations)
    except GraphError as exc:
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except (EvalError, ValueError, FileNotFoundError) as exc:
        print(f"streamer eval: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    title = f"{Path(args.graph).name}, split {args.split}"
    pngs = {name: write_png(name, f, out / f"eval_{name}.png", title) for name, f in result["decoders"].items()}
    write_json(result, out / "eval.json")
    write_html(result, pngs, out / "eval.html")
    print(summary(result))
    print(f"report: {out / 'eval.html'}, figures: {out / 'eval.json'}")
    return 0
