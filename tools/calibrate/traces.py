"""Labelled samples as frames, and the per-step readout traces of a network on them (cached).

Data sources: an N-MNIST folder (`<id>.bin` files and `labels.txt` of "id label" lines),
binned here into 1-step frames of (2, 34, 34) event counts from each sample's first event
(as tonic's ToFrame does, and dvs.file's folder replay lines samples up for events.bin);
or an .npz with `frames` (samples, steps, *input_shape) and `labels` (samples,).

Readouts (nodes.snn.early_exit.READOUTS) come from one run per sample: the accumulated
output spikes and the output membrane after every step, and their running means.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

import nodes.snn as snn
from drivers.dvs.nmnist import HEIGHT, WIDTH, read_nmnist
from nodes.snn.early_exit import MEMBRANE_READOUTS, READOUTS


def nmnist_frames(path: str | Path, steps: int = 300, bin_us: float = 1000.0) -> np.ndarray:
    """Event counts of one N-MNIST sample in bins of `bin_us` from its first event (the
    earliest; the recordings start 0.2-4 ms after the file's zero): (steps, 2, 34, 34)."""
    ev = read_nmnist(path)
    t0 = int(ev["t"].min()) if len(ev) else 0
    b = ((ev["t"] - t0) // bin_us).astype(np.int64)
    keep = b < steps
    frames = np.zeros((steps, 2, HEIGHT, WIDTH), np.float32)
    np.add.at(frames, (b[keep], ev["p"][keep].astype(np.int64), ev["y"][keep], ev["x"][keep]), 1)
    return frames


def parse_ids(text: str) -> list[int]:
    """'1-500' or '3,7,10-12' -> sample ids."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            ids.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
        except ValueError:
            raise ValueError(f"sample ids {text!r}: use ranges like 1-500 or lists like 1,5,9") from None
    return ids


class Dataset:
    """Frames and labels by sample id, loaded on demand."""

    def __init__(self, path: str | Path, steps: int, dt_s: float = 1e-3) -> None:
        self.path, self.steps, self.bin_us = Path(path), int(steps), dt_s * 1e6
        if self.path.is_dir():
            labels = self.path / "labels.txt"
            if not labels.is_file():
                raise FileNotFoundError(f"{labels} not found: an N-MNIST folder needs labels.txt "
                                        f"('id label' lines) beside its <id>.bin files")
            table = np.loadtxt(labels, dtype=np.int64, ndmin=2)
            self.labels = {int(i): int(c) for i, c in table}
            self._npz = None
        elif self.path.suffix == ".npz" and self.path.is_file():
            z = np.load(self.path)
            if "frames" not in z or "labels" not in z:
                raise ValueError(f"{self.path}: an .npz dataset needs arrays 'frames' and 'labels'")
            self._npz = z["frames"]
            self.labels = {i: int(c) for i, c in enumerate(z["labels"])}
        else:
            raise FileNotFoundError(f"data {self.path} not found (give an N-MNIST folder or an .npz "
                                    f"with frames and labels)")

    def ids(self) -> list[int]:
        return sorted(self.labels)

    def frames(self, i: int) -> np.ndarray:
        if i not in self.labels:
            raise KeyError(f"sample {i} is not in {self.path}")
        if self._npz is not None:
            return np.asarray(self._npz[i][: self.steps], np.float32)
        return nmnist_frames(self.path / f"{i}.bin", self.steps, self.bin_us)


def readout_traces(net: snn.Network, data: Dataset, ids: list[int], readout: str = "spikes",
                   cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(samples, steps, classes) readout after every step, and the labels; cached by content."""
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    membrane = readout in MEMBRANE_READOUTS
    traces, labels = _run(net, data, ids, membrane, cache_dir)
    if readout.endswith("_mean"):
        if membrane:
            traces = np.cumsum(traces, axis=1, dtype=np.float64)
        traces = (traces / np.arange(1, traces.shape[1] + 1)[None, :, None]).astype(np.float32)
    return traces, labels


def _run(net: snn.Network, data: Dataset, ids: list[int], membrane: bool,
         cache_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Accumulated output spikes (or the output membrane) after every step, run once."""
    key = _cache_key(net, data, ids, "membrane" if membrane else "spikes")
    cache = Path(cache_dir) / f"traces-{key}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        z = np.load(cache)
        return z["traces"], z["labels"]
    n_out = int(np.prod(net.out_shape))
    traces = np.empty((len(ids), data.steps, n_out), np.float32)
    labels = np.array([data.labels[i] for i in ids], np.int64)
    layer = net.readout_layer
    for k, i in enumerate(ids):
        net.reset()
        frames = data.frames(i)
        if not membrane:
            np.cumsum(net.step(frames).reshape(len(frames), n_out), axis=0, out=traces[k, :len(frames)])
        else:
            for t in range(len(frames)):
                net.step(frames[t])
                traces[k, t] = layer.v
        traces[k, len(frames):] = traces[k, len(frames) - 1]  # a short sample holds its readout
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, traces=traces, labels=labels)
    return traces, labels


def _cache_key(net: snn.Network, data: Dataset, ids: list[int], readout: str) -> str:
    h = hashlib.sha256()
    src = Path(net.source) if net.source else None
    h.update(src.read_bytes() if src and src.is_file() else repr(net).encode())
    # "first event": frames binned from each sample's first event (not the file's zero)
    h.update(repr((net.dt, net.convention, str(data.path.resolve()), data.steps, data.bin_us,
                   ids, readout, "first event")).encode())
    return h.hexdigest()[:16]
