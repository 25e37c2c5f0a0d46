"""Training data as dense frames (N, T, C, H, W) with labels, split into train / held-out."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Dataset:
    x_train: np.ndarray  # (N, T, ...) float32 counts per step
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    dt_s: float          # one step
    meta: dict = field(default_factory=dict)
    x_val: np.ndarray | None = None  # early stopping's samples (held out of training)
    y_val: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[2:])


def bin_events(ev: np.ndarray, n_bins: int, bin_us: int, width: int, height: int,
               t0_us: int = 0) -> np.ndarray:
    """Counts per (bin, polarity, y, x): bin i holds t0 + i*bin_us <= t < t0 + (i+1)*bin_us,
    the layout of the runtime's event binning; events outside the bins or frame are left out."""
    b = (ev["t"].astype(np.int64) - t0_us) // bin_us
    x, y, p = ev["x"].astype(np.int64), ev["y"].astype(np.int64), ev["p"].astype(np.int64)
    keep = (b >= 0) & (b < n_bins) & (x < width) & (y < height) & (p >= 0) & (p < 2)
    idx = ((b[keep] * 2 + p[keep]) * height + y[keep]) * width + x[keep]
    counts = np.bincount(idx, minlength=n_bins * 2 * height * width)
    return counts.reshape(n_bins, 2, height, width).astype(np.float32)


def split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """A seeded split that keeps every class in both parts (stratified)."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: max(1, int(round(len(idx) * test_fraction)))]] = True
    return x[~test], y[~test], x[test], y[test]


def load_nmnist(root: Path, bin_ms: float = 10.0, duration_ms: float = 300.0, limit: int | None = None,
                test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """N-MNIST samples listed in root/labels.txt (sample id, digit), binned from each
    sample's first event (as tonic's ToFrame, tools.calibrate and graphs/nmnist.yaml do)."""
    from drivers.dvs.nmnist import HEIGHT, WIDTH, read_nmnist

    labels_file = root / "labels.txt"
    if not labels_file.is_file():
        raise FileNotFoundError(f"{labels_file} not found: point --data-dir (or STREAMER_DATA) "
                                "at the folder with the N-MNIST .bin files and labels.txt")
    table = np.loadtxt(labels_file, dtype=np.int64, comments="#", ndmin=2)
    if limit:
        table = table[:limit]
    bin_us = int(round(bin_ms * 1e3))
    n_bins = int(duration_ms * 1e3 // bin_us)
    def frames(ev: np.ndarray) -> np.ndarray:
        return bin_events(ev, n_bins, bin_us, WIDTH, HEIGHT, int(ev["t"].min()) if len(ev) else 0)

    x = np.stack([frames(read_nmnist(root / f"{sid}.bin")) for sid in table[:, 0]])
    y = table[:, 1]
    return Dataset(*split(x, y, test_fraction, seed), classes=[str(d) for d in range(10)],
                   dt_s=bin_us * 1e-6, meta={"data": "nmnist", "bin_us": bin_us, "n_bins": n_bins,
                         "bins_from": "each sample's first event"})
