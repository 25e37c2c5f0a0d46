"""Pseudo-online motor-imagery baseline on EEGMMIDB: left (T1) vs right (T2) fist imagery.

The runs are replayed chunk by chunk through the streaming nodes (eeg.file -> signal.filter
-> signal.reref -> signal.epochs), log band power (mu, beta) over the sensorimotor channels
is taken from each epoch, and a shrinkage LDA written in NumPy is cross-validated.

    python -m tools.bci.motor_imagery [--runs 4 8] [--folds 5]

On subject 1's runs 04 and 08 this is at chance (0.47 against a majority class of 0.53).
CSP + LDA on 8-30 Hz epochs does better, streamed in graphs/eeg_replay.yaml (bci.csp_lda
calibrated on the first run's 15 trials, epochs 0.5-4 s, 2 CSP pairs):

    SPEED=0 streamer run graphs/eeg_replay.yaml

- fists (T1) vs feet (T2), calibrated on executed run 05, tested on imagined run 06:
  15/15 right (binomial p < 1e-4 against the majority class 8/15); 12-15/15 with other
  windows (0-4, 0.5-2.5, 0.5-3, 1-4 s), 2-3 CSP pairs and covariance shrinkage 0.05-0.2;
- left vs right fist, calibrated on executed run 03, tested on runs 04, 07, 08: 34/45
  (p = 0.002 against the majority class 24/45; with other windows or CSP pairs
  26-36/45); calibrated on runs 03 and 04, tested on 07 and 08: 22/30 (p = 0.02); one
  run to the next (04 -> 08, 03 -> 07) 10-11/15, not significant.

graphs/eeg_left_right.yaml runs this decoder (calibrated on executed runs 03 and 07,
24/30 on imagined runs 04 and 08) beside a spiking network on the same stream.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

import numpy as np

from drivers.eeg.file_source import FileSource
from nodes.bci.lda import lda_fit
from nodes.signal.bandpower import WelchBands
from nodes.signal.channels import Reref
from nodes.signal.filter import Filter
from nodes.signal.windows import Epochs
from streamer.node import EndOfStream, emitted
from streamer.streams import Message
from tools.datasets import data_path

# The classic pair over the hand areas and the vertex (Pfurtscheller's ERD sites): with
# 30 trials, few features keep the LDA from fitting noise.
CHANNELS = ["C3", "Cz", "C4"]
SENSORIMOTOR = ["FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "CP3", "CP1", "CPz",
            "CP2", "CP4"]
BANDS = {"mu": (8.0, 13.0), "beta": (13.0, 30.0)}


def filtered_stream(paths: str | Path | list, l_freq_hz: float = 8.0, h_freq_hz: float = 30.0,
                    chunk_ms: float = 62.5) -> Iterator[tuple[str, Message]]:
    """The files replayed back to back as one stream, as fast as possible, through a causal
    band-pass (Butterworth order 4) and common average reference: ("in", Samples) and
    ("markers", Marker) in the order eeg.file sends them."""
    src = FileSource(path=[str(p) for p in paths] if isinstance(paths, list) else str(paths),
                     speed=0, chunk_ms=chunk_ms)
    chain = [Filter(kind="bandpass", l_freq_hz=l_freq_hz, h_freq_hz=h_freq_hz, order=4), Reref(method="average")]
    for node in (src, *chain):
        node.start()
    try:
        while True:
            try:
                produced = src.produce()
            except EndOfStream:
                return
            for port, msg in emitted(src, produced):
                if port != "markers":
                    for node in chain:
                        msg = node.receive("in", msg)
                    port = "in"
                yield port, msg
    finally:
        for node in (src, *chain):
            node.stop()


def stream_epochs(path: str | Path, tmin_s: float = 0.5, tmax_s: float = 4.0, l_freq_hz: float = 7.0,
                  h_freq_hz: float = 32.0, chunk_ms: float = 62.5) -> tuple[np.ndarray, list[str], list[str], float]:
    """Epochs (trials, channels, samples) of T1/T2, their labels, channel names and sfreq,
    from the run replayed through causal band-pass and common average reference."""
    epochs = Epochs(tmin_s=tmin_s, tmax_s=tmax_s, labels=["T1", "T2"])
    epochs.start()
    out = []
    try:
        for port, msg in filtered_stream(path, l_freq_hz, h_freq_hz, chunk_ms):
            out += [m for _, m in emitted(epochs, epochs.receive(port, msg))]
        out += [m for _, m in emitted(epochs, epochs.finish())]
    finally:
        epochs.stop()
    if not out:
        raise ValueError(f"{path}: no T1/T2 epochs; is it an EEGMMIDB imagery run with annotations?")
    names = [n.strip(".") for n in out[0].meta["ch_names"]]
    return (np.stack([m.data[0] for m in out]), [m.meta["label"] for m in out], names,
            1e6 / out[0].meta["bin_us"])


def band_features(epochs: np.ndarray, sfreq: float, ch_names: list[str], channels: list[str] = CHANNELS,
                  bands: dict[str, tuple[float, float]] = BANDS, segment_s: float = 1.0) -> np.ndarray:
    """log10 Welch band power per (channel, band) of each epoch: (trials, channels * bands)."""
    lower = [n.lower() for n in ch_names]
    missing = [c for c in channels if c.lower() not in lower]
    if missing:
        raise ValueError(f"channels {missing} not in the recording; it has {', '.join(ch_names)}")
    idx = [lower.index(c.lower()) for c in channels]
    welch = WelchBands(bands, sfreq, min(epochs.shape[-1], round(segment_s * sfreq)), segment_s * 1e3)
    return np.stack([np.log10(welch(e[idx])).ravel() for e in epochs])


def cross_validate(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0,
                   shrinkage: float = 0.1) -> np.ndarray:
    """Accuracy of each fold of a stratified k-fold (features standardised on the training part)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), int)
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        fold[members] = np.arange(len(members)) % folds
    acc = []
    for k in range(folds):
        train, test = fold != k, fold == k
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-12
        w, b = lda_fit((x[train] - mu) / sd, y[train], shrinkage)
        acc.append(float(((((x[test] - mu) / sd) @ w + b > 0).astype(int) == y[test]).mean()))
    return np.array(acc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, nargs="+", default=[4, 8], help="EEGMMIDB runs of subject 1")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--all-sensorimotor", action="store_true", help=f"use {len(SENSORIMOTOR)} channels")
    ap.add_argument("--repeats", type=int, default=10, help="cross-validations with different fold draws")
    args = ap.parse_args(argv)
    xs, labels = [], []
    for r in args.runs:
        path = data_path("eeg", f"S001R{r:02d}.edf")
        if not path.exists():
            raise SystemExit(f"{path} not found (set STREAMER_DATA to the shared recordings)")
        ep, lab, names, sfreq = stream_epochs(path)
        xs.append(band_features(ep, sfreq, names, SENSORIMOTOR if args.all_sensorimotor else CHANNELS))
        labels += lab
    x, y = np.concatenate(xs), np.array([lab == "T2" for lab in labels], int)
    # Few trials: repeat the cross-validation over fold draws for a steadier estimate.
    acc = np.array([cross_validate(x, y, args.folds, seed).mean() for seed in range(args.repeats)])
    chance = max(y.mean(), 1 - y.mean())
    print(f"runs {args.runs}: {len(y)} trials (T1 {int((y == 0).sum())}, T2 {int((y == 1).sum())}), "
          f"{x.shape[1]} features (log mu/beta power over {x.shape[1] // len(BANDS)} channels)")
    print(f"{args.folds}-fold LDA accuracy {acc.mean():.3f} (range over {args.repeats} fold draws "
          f"{acc.min():.3f}-{acc.max():.3f}; majority class {chance:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
