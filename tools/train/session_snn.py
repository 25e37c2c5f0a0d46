"""The spiking decoder of a session's fit phase: CSP filters -> send-on-delta spikes -> a
spiking network trained by tools.train (the recipe of tools.train.cross_run), on the
calibration recording's cues; cross-validated by stratified folds (CSP and network fitted
on each fold's training trials alone), then fitted on every trial and written as NIR
beside the decoder file, with the filters and encoder settings in its metadata (what
signal.project, signal.encode and snn.infer read online)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .cross_run import Recipe
from .eegmmidb import spiking_dataset

SHIFTS_MS = (-200, -100, 0, 100, 200)


def _train(chunks: list, train: list, test: list, labels: dict, recipe: Recipe, seed: int, **kw: Any):
    from .fit import predict, seed_everything, train as fit
    from .model import SNN, dense_arch

    data = spiking_dataset(chunks, train, test, labels, **kw)
    seed_everything(seed)
    model = SNN(data.input_shape, dense_arch(len(labels), recipe.hidden), beta=recipe.beta, bias=recipe.bias)
    fit(model, data, recipe.epochs, seed, recipe.lr, recipe.batch, None, recipe.weight_decay, recipe.scale,
        recipe.temperature)
    return model, data, predict(model, data.x_test).argmax(1)


def fit_snn(data: dict, classes: list[str], out: str | Path, *, folds: int = 3, seed: int = 0,
            tmin_s: float = 0.5, tmax_s: float = 2.5, step_ms: float = 25.0, threshold: float = 0.5,
            recipe: Recipe | None = None, provenance: dict | None = None) -> tuple[dict, dict]:
    """(params for the decoder file, cross-validation figures); writes OUT.nir."""
    from tools.bci.fit_decoder import folds_of

    from .export import write_nir

    recipe = recipe or Recipe()
    chunks = data["chunks"]
    total = sum(m.data.shape[1] for m in chunks)
    sfreq = data["sfreq"]
    tail = round((tmax_s + max(SHIFTS_MS) / 1e3) * sfreq) + 1
    cues = [(lab, s) for lab, s in data["markers"] if s + tail <= total and s + round(tmin_s * sfreq) >= 0]
    labels = {c: k for k, c in enumerate(classes)}
    y = np.array([labels[lab] for lab, _ in cues])
    kw = {"threshold": threshold, "step_ms": step_ms, "delay_s": tmin_s, "trial_s": tmax_s - tmin_s,
          "epoch_s": (tmin_s, tmax_s), "shifts_ms": SHIFTS_MS}
    scores = []
    for test in folds_of(y, folds, seed):
        train = [cues[i] for i in np.setdiff1d(np.arange(len(cues)), test)]
        _, _, predicted = _train(chunks, train, [cues[i] for i in test], labels, recipe, seed, **kw)
        scores.append(float((predicted == y[test]).mean()))
    model, ds, predicted = _train(chunks, cues, cues, labels, recipe, seed, **kw)
    nir_path = Path(out).with_suffix(".nir")
    names = (provenance or {}).get("names") or classes
    meta = {**ds.meta, "labels": dict(zip(classes, names)), "reref": "average",
            "training_sha256": (provenance or {}).get("training", {}).get("sha256")}
    write_nir(model, nir_path, ds.dt_s, meta)
    cv = {"folds": len(scores), "accuracy": float(np.mean(scores)), "std": float(np.std(scores)), "scores": scores,
          "chance": float(np.bincount(y).max() / len(y)), "training_accuracy": float((predicted == y).mean()),
          "recipe": recipe.__dict__}
    params = {"nir": nir_path.name, "dt_s": ds.dt_s, "step_ms": step_ms, "delta_threshold": threshold,
              "delay_s": tmin_s, "trial_steps": ds.meta["trial_steps"], "trials_used": len(cues)}
    return params, cv
