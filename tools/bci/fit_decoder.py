"""A session's fit phase: a two-class decoder trained on the calibration recording and
saved with its provenance (nodes.bci.decoder_file), for `bci.decoder` online.

The recorded samples go through the graph's own nodes (signal.filter, signal.reref,
signal.epochs), so the decoder is fitted on exactly the epochs it is given online.
Decoders: `csp_lda` (CSP + shrinkage LDA, the code of bci.csp_lda), `ts_lr` (OAS
covariances -> tangent space at their Riemannian mean -> logistic regression, through
pyriemann and scikit-learn) and `snn` (CSP filters -> send-on-delta spikes -> a spiking
network trained by tools.train, saved as NIR for signal.project and snn.infer). Each is
scored by stratified k-fold cross-validation on the calibration trials before it is fitted
on all of them.

    python -m tools.bci.fit_decoder calibration.rec --classes left right --out decoder.json
"""
from __future__ import annotations

import argparse
import datetime
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from nodes.bci.decoder_file import KINDS, save_decoder, sha256_of
from nodes.bci.epoch_decoders import FITS, p_class1
from nodes.signal.channels import Reref
from nodes.signal.filter import Filter
from nodes.signal.windows import Epochs
from streamer.node import emitted
from streamer.recording import read
from streamer.streams import MARKER, SAMPLES

log = logging.getLogger(__name__)


class FitError(ValueError):
    """The recording cannot train the decoder; the message says why and what to do."""


def recorded_epochs(path: str | Path, classes: list[str], *, tmin_s: float, tmax_s: float,
                    filter: dict | None, reref: str | None, samples: str | None = None) -> dict[str, Any]:
    """Epochs of `classes` from a native recording, through the online nodes: {x (trials,
    channels, samples) float64, y (class index), channels, sfreq, chunks (filtered Samples
    messages), markers [(label, sample)]}."""
    rec = read(path, keep_messages=True)
    sample_streams = [n for n, r in rec.items() if r.stream == SAMPLES]
    name = samples or (sample_streams[0] if sample_streams else None)
    if name not in rec or rec[name].stream != SAMPLES:
        raise FitError(f"{path}: no Samples stream {name or ''} to fit on (streams: "
                       f"{', '.join(f'{n} ({r.stream})' for n, r in rec.items()) or 'none'})")
    chain = ([Filter(**filter)] if filter else []) + ([Reref(method=reref)] if reref else [])
    epochs = Epochs(tmin_s=tmin_s, tmax_s=tmax_s, labels=list(classes), keep_s=max(30.0, 2 * (tmax_s - tmin_s)))
    for node in (*chain, epochs):
        node.start()
    markers = []
    for n, r in rec.items():
        if r.stream == MARKER:
            for m in r.messages:
                if m.data.get("label") in classes:
                    markers.append(m)
    markers.sort(key=lambda m: m.data.get("sample", m.data.get("time_s", 0.0)))
    out, chunks = [], []
    for m in markers:  # held until their samples arrive
        epochs.receive("markers", m)
    for msg in rec[name].messages:
        for node in chain:
            msg = node.receive("in", msg)
        chunks.append(msg)
        out += [m for _, m in emitted(epochs, epochs.receive("in", msg))]
    if epochs.counters.get("epochs_too_late"):
        log.warning("%s: %d cues fall before the recorded samples (left out)", path, epochs.counters["epochs_too_late"])
    if len(out) < 4:
        raise FitError(f"{path}: {len(out)} epochs of {', '.join(classes)} in stream {name!r} "
                       f"({len(markers)} cue markers); a fit needs at least 2 trials of each class: "
                       "record a longer calibration")
    y = np.array([classes.index(m.meta["label"]) for m in out])
    counts = [int((y == k).sum()) for k in range(len(classes))]
    if min(counts) < 2:
        raise FitError(f"{path}: trials per class {dict(zip(classes, counts))}; each class needs 2 or more")
    meta = chunks[0].meta
    return {"x": np.stack([m.data[0] for m in out]).astype(np.float64), "y": y,
            "channels": list(meta["ch_names"]), "sfreq": float(meta["sfreq"]), "chunks": chunks,
            "markers": [(m.meta["label"], int(m.meta["first_sample"] - round(tmin_s * float(meta["sfreq"]))))
                        for m in out]}


def folds_of(y: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Stratified folds (test indices): each class's trials shuffled (seeded) and dealt
    round-robin, so every fold holds each class in proportion (StratifiedKFold's rule)."""
    k = max(2, min(folds, int(np.bincount(y).min())))
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=int)
    offset = 0
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold_of[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)  # the next class starts where this one stopped: folds of equal size
    return [np.flatnonzero(fold_of == f) for f in range(k)]


def cross_validate(kind: str, x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> dict:
    scores = []
    for test in folds_of(y, folds, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        params = FITS[kind](x[train], y[train])
        scores.append(float(((p_class1(kind, params, x[test]) > 0.5) == y[test]).mean()))
    return {"folds": len(scores), "accuracy": float(np.mean(scores)), "std": float(np.std(scores)),
            "scores": scores, "chance": float(np.bincount(y).max() / len(y))}


def fit_decoder(recording: str | Path, out: str | Path, *, kind: str = "csp_lda", classes: list[str],
                names: list[str] | None = None, tmin_s: float = 0.5, tmax_s: float = 2.5,
                filter: dict | None = None, reref: str | None = "average", samples: str | None = None,
                folds: int = 5, seed: int = 0, metadata: dict | None = None) -> dict:
    """Fit `kind` on the calibration recording and save it to `out` with its provenance;
    returns the saved model (with its cross-validated score)."""
    if kind not in KINDS:
        raise FitError(f"decoder kind {kind!r}: choose one of {', '.join(KINDS)}")
    if len(classes) != 2:
        raise FitError(f"classes must name two cue labels, got {classes}")
    filter = {"kind": "bandpass", "l_freq_hz": 8.0, "h_freq_hz": 30.0, "order": 4} if filter is None else filter
    data = recorded_epochs(recording, classes, tmin_s=tmin_s, tmax_s=tmax_s, filter=filter or None,
                           reref=reref, samples=samples)
    x, y = data["x"], data["y"]
    model: dict[str, Any] = {
        "kind": kind, "classes": list(classes), "names": list(names or classes),
        "channels": data["channels"], "sfreq": data["sfreq"],
        "preprocessing": {"filter": filter or None, "reref": reref, "epoch": {"tmin_s": tmin_s, "tmax_s": tmax_s}},
        "training": {"recording": str(Path(recording).resolve()), "sha256": sha256_of(recording),
                     "trials": {c: int((y == k).sum()) for k, c in enumerate(classes)},
                     "fitted": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     **(metadata or {})}}
    if kind == "snn":
        from tools.train.session_snn import fit_snn

        params, cv = fit_snn(data, classes, out, folds=folds, seed=seed, tmin_s=tmin_s, tmax_s=tmax_s,
                             provenance=model)
    else:
        cv = cross_validate(kind, x, y, folds, seed)
        params = FITS[kind](x, y)
        fitted = float(((p_class1(kind, params, x) > 0.5) == y).mean())
        cv["training_accuracy"] = fitted
    model["params"] = params
    model["training"]["cross_validation"] = cv
    for v in (cv["accuracy"], cv["std"]):
        if not math.isfinite(v):
            raise FitError(f"{recording}: the cross-validated score is not finite; are channels flat?")
    save_decoder(out, model)
    log.info("%s: %s fitted on %d trials, cross-validated accuracy %.2f +- %.2f (%d folds, chance %.2f) -> %s",
             recording, kind, len(y), cv["accuracy"], cv["std"], cv["folds"], cv["chance"], out)
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bci.fit_decoder", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recording")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kind", choices=KINDS, default="csp_lda")
    ap.add_argument("--classes", nargs=2, required=True)
    ap.add_argument("--names", nargs=2)
    ap.add_argument("--tmin", type=float, default=0.5)
    ap.add_argument("--tmax", type=float, default=2.5)
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        m = fit_decoder(args.recording, args.out, kind=args.kind, classes=args.classes, names=args.names,
                        tmin_s=args.tmin, tmax_s=args.tmax, folds=args.folds)
    except FitError as exc:
        print(f"error: {exc}")
        return 2
    cv = m["training"]["cross_validation"]
    print(f"{args.kind}: cross-validated accuracy {cv['accuracy']:.3f} +- {cv['std']:.3f} over {cv['folds']} "
          f"folds (chance {cv['chance']:.3f}) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
