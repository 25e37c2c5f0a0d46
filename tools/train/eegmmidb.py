"""EEGMMIDB motor imagery for the SNN: the runs replayed as one stream through the graph's
own nodes (eeg.file -> signal.filter -> signal.reref -> signal.project -> signal.encode),
so the network is trained on exactly the spikes it sees online.

The spatial front end is CSP (nodes.bci.csp) fitted on the training runs' epochs, each
filter scaled to unit standard deviation over the training runs, then send-on-delta
spikes of the filter outputs. The filters travel in the model's NIR metadata
(`spatial_filters`), where signal.project reads them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nodes.bci.csp import csp_fit
from .data import Dataset

LABELS = {"T1": 0, "T2": 1}  # in runs 03/04/07/08: left fist, right fist


def run_path(root: Path, subject: int, run: int) -> Path:
    return root / f"S{subject:03d}R{run:02d}.edf"


_REPLAYS: dict[tuple, tuple[list, list]] = {}


def replay(paths: list[Path], band_hz: tuple[float, float]):
    """Band-passed, common-average Samples chunks of the files replayed back to back, and
    the T1/T2 markers (label, sample in the stream, file name). Kept for the process's
    life: a cross-run search replays the same runs dozens of times."""
    key = (tuple(str(Path(p).resolve()) for p in paths), tuple(band_hz))
    if key not in _REPLAYS:
        if len(_REPLAYS) >= 32:  # about 20 MB each (four runs of 64 channels)
            _REPLAYS.pop(next(iter(_REPLAYS)))
        _REPLAYS[key] = _replay(paths, band_hz)
    return _REPLAYS[key]


def _replay(paths: list[Path], band_hz: tuple[float, float]):
    from tools.bci.motor_imagery import filtered_stream

    chunks, markers = [], []
    for port, msg in filtered_stream(list(paths), *band_hz):
        if port == "in":
            chunks.append(msg)
        elif msg.data["label"] in LABELS:
            markers.append((msg.data["label"], int(msg.data["sample"]), msg.data.get("source")))
    return chunks, markers


def encode(chunks, filters: dict, threshold: float, step_ms: float) -> np.ndarray:
    """Delta spike counts (steps, 2 * filters) of the whole stream, through the graph's nodes."""
    from nodes.signal.encode import Encode
    from nodes.signal.project import Project

    project = Project(matrix=filters["matrix"].tolist(), channels=filters["channels"], names=filters["names"])
    enc = Encode(method="delta", step_ms=step_ms, threshold=threshold)
    for node in (project, enc):
        node.start()
    out = []
    for msg in chunks:
        out += [m.data for m in (enc.receive("in", project.receive("in", msg)) or [])]
    return np.concatenate(out)


def load_eegmmidb(root: Path, train_runs: list[int], test_runs: list[int], subject: int = 1,
                  n_pairs: int = 2, threshold: float = 0.5, step_ms: float = 25.0, delay_s: float = 0.5,
                  trial_s: float = 3.5, epoch_s: tuple[float, float] = (0.5, 4.0),
                  band_hz: tuple[float, float] = (8.0, 30.0),
                  shifts_ms: tuple[float, ...] = (-200, -100, 0, 100, 200)) -> Dataset:
    """Left (T1) vs right (T2) fist trials of `train_runs` (CSP fitted on them; each trial
    also taken at the start offsets `shifts_ms`, so the network does not learn one onset
    by heart) and of `test_runs` (held out), `trial_s` long from `delay_s` after the cue,
    the window of the classical decoder's epochs (the cue's evoked response left out)."""
    paths = [run_path(root, subject, r) for r in [*train_runs, *test_runs]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"EEGMMIDB runs not found: {', '.join(missing)} (set --data-dir or STREAMER_DATA)")
    chunks, markers = replay(paths, band_hz)
    train_files = {p.name for p in paths[:len(train_runs)]}
    train = [(lab, s) for lab, s, f in markers if f in train_files]
    test = [(lab, s) for lab, s, f in markers if f not in train_files]
    data = spiking_dataset(chunks, train, test, LABELS, n_pairs=n_pairs, threshold=threshold, step_ms=step_ms,
                           delay_s=delay_s, trial_s=trial_s, epoch_s=epoch_s, shifts_ms=shifts_ms)
    data.classes = ["left", "right"]
    data.meta = {"data": "eegmmidb", "subject": subject, "train_runs": list(train_runs),
                 "test_runs": list(test_runs), **data.meta, "band_hz": list(band_hz), "reref": "average",
                 "labels": {"T1": "left", "T2": "right"}}
    return data


def spiking_dataset(chunks: list, train: list[tuple[str, int]], test: list[tuple[str, int]],
                    labels: dict[str, int], n_pairs: int = 2, threshold: float = 0.5, step_ms: float = 25.0,
                    delay_s: float = 0.5, trial_s: float = 3.5, epoch_s: tuple[float, float] = (0.5, 4.0),
                    shifts_ms: tuple[float, ...] = (-200, -100, 0, 100, 200)) -> Dataset:
    """Trials for the SNN from a band-passed, re-referenced stream (Samples chunks, first
    sample 0) and its cues (label, sample): CSP fitted on the `train` cues' epochs, each
    filter scaled to unit variance up to the last training epoch, send-on-delta spikes
    through the graph's nodes, one trial per cue from `delay_s` on (the training ones also
    at the offsets `shifts_ms`)."""
    sfreq = float(chunks[0].meta["sfreq"])
    names = list(chunks[0].meta["ch_names"])
    signal = np.concatenate([m.data for m in chunks], axis=1)
    a, b = (round(t * sfreq) for t in epoch_s)
    epochs = np.stack([signal[:, s + a:s + b] for _, s in train]).astype(np.float64)
    y_train = np.array([labels[lab] for lab, _ in train])
    matrix = csp_fit(epochs, y_train, n_pairs)
    # Unit variance per filter over the training runs: one delta threshold fits all.
    last = max(s for _, s in train) + b
    matrix /= (matrix @ signal[:, :last].astype(np.float64)).std(axis=1, keepdims=True)
    filters = {"matrix": matrix, "channels": [n.strip(". ") for n in names],
               "names": [f"csp{i + 1}" for i in range(len(matrix))]}
    counts = encode(chunks, filters, threshold, step_ms)
    step = max(1, int(round(step_ms * 1e-3 * sfreq)))
    n_steps = int(round(trial_s * 1e3 / step_ms))

    def trial(sample: int, shift_ms: float = 0.0) -> np.ndarray:
        # snn.infer starts a trial at the first step at or after the cue.
        k = -(-sample // step) + int(round((delay_s * 1e3 + shift_ms) / step_ms))
        return counts[k:k + n_steps]

    x_train = np.stack([trial(s, d) for d in shifts_ms for _, s in train])
    y_train = np.tile(y_train, len(shifts_ms))
    x_test = np.stack([trial(s) for _, s in test])
    y_test = np.array([labels[lab] for lab, _ in test])
    meta = {"sfreq": sfreq, "step_samples": step, "delta_threshold": float(threshold), "delay_s": float(delay_s),
            "trial_steps": n_steps, "spatial_filters": filters}
    classes = sorted(labels, key=labels.get)
    return Dataset(x_train, y_train, x_test, y_test, classes=classes, dt_s=step / sfreq, meta=meta)
