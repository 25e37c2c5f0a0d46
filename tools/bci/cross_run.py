"""Motor imagery decoders judged across runs: leave-one-run-out on EEGMMIDB subject 1's
left (T1) / right (T2) fist runs, each run's 15 trials decided by a decoder trained on the
other runs alone.

Epochs 0.5-4 s after each cue come out of the streaming nodes (eeg.file -> causal 8-30 Hz
band-pass -> common average -> signal.epochs), as in graphs/eeg_left_right.yaml. Decoders:

- csp_lda: CSP (2 pairs, covariance shrinkage 0.05) + shrinkage LDA, the code of bci.csp_lda;
- riemann: covariances (OAS shrinkage) -> tangent space at their Riemannian mean ->
  L2 logistic regression (Barachant et al. 2012; pyriemann + scikit-learn, the `dev`
  extra). Across runs it does not beat CSP + LDA here, so no graph runs it.

    python -m tools.bci.cross_run [--runs 3 4 7 8] [--decoders csp_lda riemann] [--train 3 7]

Prints per held-out run and pooled: accuracy, per-class recall, the majority-class chance
level and the one-sided binomial p-value against guessing (0.5); then the same for the
decoders trained on the `--train` runs (the executed ones) and tested on the others, the
split of graphs/eeg_left_right.yaml.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np

from nodes.bci.csp import csp_fit, log_variance
from nodes.bci.lda import lda_fit
from tools.bci.metrics import binomial_p, chance_level, per_class_recall
from tools.bci.motor_imagery import stream_epochs
from tools.datasets import data_path

CLASSES = ["T1", "T2"]
NAMES = {"T1": "left", "T2": "right"}


def csp_lda(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Class index (0/1) of each test epoch, CSP + LDA trained on the training epochs."""
    filters = csp_fit(train_x, train_y, n_pairs=2, shrinkage=0.05)
    w, b = lda_fit(log_variance(filters, train_x), train_y, 0.1)
    return (log_variance(filters, test_x) @ w + b > 0).astype(int)


def riemann(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Class index of each test epoch: covariances shrunk by OAS (64 channels, a few dozen
    trials), tangent space, L2 logistic regression of inverse strength `c`."""
    from pyriemann.estimation import Covariances  # the dev extra: imported where used
    from pyriemann.tangentspace import TangentSpace
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(Covariances(estimator="oas"), TangentSpace(metric="riemann"),
                         LogisticRegression(C=c, max_iter=1000))
    return pipe.fit(train_x, train_y).predict(test_x)


DECODERS = {"csp_lda": csp_lda, "riemann": riemann}


@dataclass
class Score:
    """Decisions of one decoder on held-out runs."""
    truth: list = field(default_factory=list)
    predicted: list = field(default_factory=list)

    def add(self, truth: np.ndarray, predicted: np.ndarray) -> None:
        self.truth += list(truth)
        self.predicted += list(predicted)

    def figures(self) -> dict:
        t, p = np.array(self.truth), np.array(self.predicted)
        right = int((t == p).sum())
        return {"n": len(t), "right": right, "accuracy": right / len(t),
                "recall": per_class_recall(p, t, [0, 1]), "chance": chance_level(t),
                "p_value": binomial_p(right, len(t), 0.5)}


def load_runs(runs: list[int], l_freq_hz: float = 8.0, h_freq_hz: float = 30.0) -> dict[int, tuple]:
    """run -> (epochs, class index 0/1) from the streaming nodes."""
    out = {}
    for r in runs:
        path = data_path("eeg", f"S001R{r:02d}.edf")
        if not path.exists():
            raise FileNotFoundError(f"{path} not found (set STREAMER_DATA to the shared recordings)")
        ep, labels, _, _ = stream_epochs(path, 0.5, 4.0, l_freq_hz, h_freq_hz)
        out[r] = (ep, np.array([CLASSES.index(lab) for lab in labels]))
    return out


def leave_one_run_out(data: dict[int, tuple], decoders: list[str]) -> dict[str, dict]:
    """decoder -> {held-out run: figures, 'pooled': figures over all held-out trials}."""
    out = {}
    for name in decoders:
        pooled, per_run = Score(), {}
        for held in data:
            train = [r for r in data if r != held]
            x = np.concatenate([data[r][0] for r in train])
            y = np.concatenate([data[r][1] for r in train])
            predicted = DECODERS[name](x, y, data[held][0])
            run = Score()
            run.add(data[held][1], predicted)
            pooled.add(data[held][1], predicted)
            per_run[held] = run.figures()
        out[name] = {**per_run, "pooled": pooled.figures()}
    return out


def train_test(data: dict[int, tuple], train: list[int], test: list[int], decoders: list[str]) -> dict[str, dict]:
    """decoder -> figures on the `test` runs' trials of a decoder trained on the `train` runs."""
    x = np.concatenate([data[r][0] for r in train])
    y = np.concatenate([data[r][1] for r in train])
    out = {}
    for name in decoders:
        score = Score()
        for r in test:
            score.add(data[r][1], DECODERS[name](x, y, data[r][0]))
        out[name] = score.figures()
    return out


def describe(f: dict) -> str:
    return (f"{f['right']}/{f['n']} = {f['accuracy']:.3f} (left recall {f['recall'][0]:.2f}, right "
            f"{f['recall'][1]:.2f}; majority class {f['chance']:.2f}, p = {f['p_value']:.2g})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, nargs="+", default=[3, 4, 7, 8],
                    help="EEGMMIDB left/right runs of subject 1 (03, 07 executed; 04, 08 imagined)")
    ap.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=list(DECODERS))
    ap.add_argument("--train", type=int, nargs="*", default=[3, 7],
                    help="also train on these runs and test on the others (graphs/eeg_left_right.yaml's split)")
    args = ap.parse_args(argv)
    if len(args.runs) < 2:
        raise SystemExit("leave-one-run-out needs two runs or more")
    data = load_runs(args.runs)
    for name, res in leave_one_run_out(data, args.decoders).items():
        print(f"{name}, leave-one-run-out over runs {args.runs}:")
        for run, f in res.items():
            print(f"  {'pooled' if run == 'pooled' else f'run {run:02d} held out'}: {describe(f)}")
    test = [r for r in args.runs if r not in args.train]
    if args.train and test and set(args.train) <= set(args.runs):
        for name, f in train_test(data, args.train, test, args.decoders).items():
            print(f"{name}, trained on runs {args.train}, tested on runs {test}: {describe(f)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
