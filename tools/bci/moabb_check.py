"""Peer check of `streamer eval` against MOABB: MOABB's own pipelines (CSP + LDA and
tangent space + logistic regression, nodes.bci.pipelines) evaluated by MOABB's own
evaluation code on the local EEGMMIDB runs, and by `streamer eval` of
graphs/eeg_pipelines.yaml on the same runs and the same splits.

MOABB's PhysionetMI would download every run of every subject; `LocalEEGMMIDB` is a MOABB
dataset (BaseDataset, MOABB's documented way to add one) over the files at hand: subject
1, left (T1) / right (T2) fist runs 03, 07 (executed) and 04, 08 (imagined), 64
channels at 160 Hz, trials 0-3 s after each cue (PhysionetMI's interval), band-passed
8-32 Hz by MOABB (zero-phase IIR) and by our graph (causal IIR: what an online decoder
can do). Splits:

- within-session: one session of the four runs, MOABB's stratified 5-fold CV
  (random_state 42): WithinSessionEvaluation against `--split within-session`;
- cross-session: executed runs as one session, imagined as the other, each held out in
  turn: CrossSessionEvaluation against `--split cross-session`.

    python -m tools.bci.moabb_check [--out DIR]

Prints MOABB's accuracy, ours and the difference, per pipeline and split; the check
holds when every difference is within 2 points.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tools.datasets import data_path

RUNS = {"0executed": [3, 7], "1imagined": [4, 8]}
GRAPH = Path(__file__).resolve().parents[2] / "graphs" / "eeg_pipelines.yaml"
PIPELINES = ("csp_lda", "ts_lr")
TOLERANCE = 0.02


def dataset_class():
    """LocalEEGMMIDB, defined when asked for (MOABB is in the dev extra)."""
    import mne
    from moabb.datasets.base import BaseDataset

    class LocalEEGMMIDB(BaseDataset):
        """EEGMMIDB subject 1's local left/right fist runs; `sessions` maps a session name
        to its runs, in order."""

        def __init__(self, root: Path, sessions: dict[str, list[int]]) -> None:
            self.root, self.sessions = Path(root), sessions
            super().__init__(subjects=[1], sessions_per_subject=len(sessions),
                             events={"left_hand": 2, "right_hand": 3}, code="Local-Eegmmidb",
                             interval=[0, 3], paradigm="imagery", doi="10.1109/TBME.2004.827072")

        def _get_single_subject_data(self, subject: int) -> dict:
            out = {}
            for session, runs in self.sessions.items():
                out[session] = {}
                for i, run in enumerate(runs):
                    raw = mne.io.read_raw_edf(self.root / f"S001R{run:02d}.edf", preload=True, verbose="error")
                    raw.annotations.rename({"T0": "rest", "T1": "left_hand", "T2": "right_hand"})
                    out[session][str(i)] = raw
            return out

        def data_path(self, subject, path=None, force_update=False, update_path=None, verbose=None):
            return [str(self.root / f"S001R{r:02d}.edf") for runs in self.sessions.values() for r in runs]

    return LocalEEGMMIDB


def moabb_scores(root: Path, sessions: dict[str, list[int]], evaluation: str, work: Path) -> dict[str, float]:
    """pipeline -> MOABB's accuracy (mean over its folds and sessions)."""
    import moabb
    from moabb.evaluations import CrossSessionEvaluation, WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery

    from nodes.bci.pipelines import make_pipeline

    moabb.set_log_level("error")
    paradigm = LeftRightImagery(fmin=8, fmax=32, scorer="accuracy")
    cls = {"within-session": WithinSessionEvaluation, "cross-session": CrossSessionEvaluation}[evaluation]
    ev = cls(paradigm=paradigm, datasets=[dataset_class()(root, sessions)], overwrite=True, random_state=42,
             n_jobs=1, hdf5_path=str(work), suffix=evaluation)
    results = ev.process({name: make_pipeline(name) for name in PIPELINES})
    return {name: float(results[results.pipeline == name].score.mean()) for name in PIPELINES}


def our_scores(root: Path, sessions: dict[str, list[int]], split: str) -> dict[str, float]:
    """pipeline -> streamer eval's accuracy (mean over folds, as MOABB averages)."""
    import numpy as np

    from streamer.evaluation.evaluate import evaluate

    files = [str(root / f"S001R{r:02d}.edf") for runs in sessions.values() for r in runs]
    labels = [s for s, runs in sessions.items() for _ in runs]
    result = evaluate(str(GRAPH), files, split, decoders=list(PIPELINES), sessions=labels, n_permutations=100)
    return {name: float(np.mean(result["decoders"][name]["fold_accuracy"])) for name in PIPELINES}


def check(root: Path | None = None) -> list[dict]:
    """Rows of the comparison: split, pipeline, MOABB's accuracy, ours, difference."""
    root = Path(root or data_path("eeg"))
    missing = [r for runs in RUNS.values() for r in runs if not (root / f"S001R{r:02d}.edf").exists()]
    if missing:
        raise FileNotFoundError(f"EEGMMIDB runs {missing} not under {root} (set STREAMER_DATA)")
    layouts = {"within-session": {"0": RUNS["0executed"][:1] + RUNS["1imagined"][:1] + RUNS["0executed"][1:]
                                  + RUNS["1imagined"][1:]},
               "cross-session": dict(RUNS)}
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for split, sessions in layouts.items():
            theirs = moabb_scores(root, sessions, split, Path(work))
            ours = our_scores(root, sessions, split)
            rows += [{"split": split, "pipeline": p, "moabb": theirs[p], "streamer": ours[p],
                      "difference": ours[p] - theirs[p]} for p in PIPELINES]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder of the EEGMMIDB EDF files (default: the shared recordings)")
    args = ap.parse_args(argv)
    rows = check(Path(args.data) if args.data else None)
    print("| split | pipeline | MOABB | streamer eval | difference |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['split']} | {r['pipeline']} | {r['moabb']:.3f} | {r['streamer']:.3f} | "
              f"{100 * r['difference']:+.1f} points |")
    worst = max(abs(r["difference"]) for r in rows)
    print(f"largest difference {100 * worst:.1f} points: {'within' if worst <= TOLERANCE else 'beyond'} "
          f"{100 * TOLERANCE:.0f} points")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())
