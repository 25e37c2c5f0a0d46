"""A folder of one's own labelled event recordings as training data: `<label>/<file>`
sub-folders, one sample per file, in any format dvs.file reads (aedat4, Prophesee RAW and
DAT, N-MNIST .bin). Each is binned as graphs/dvs_live.yaml bins the camera (events.bin,
fit 'scale': the sensor scaled to size x size) from its first event on."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import Dataset, bin_events, split


def list_recordings(folder: Path) -> list[tuple[str, Path]]:
    """(label, file) of every file in the label sub-folders, sorted."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; give --data-dir the folder of <label>/<recording> "
                                "sub-folders")
    found = sorted((d.name, p) for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")
                   for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
    if not found:
        raise FileNotFoundError(f"{folder}: no recordings; expected <label>/<recording> sub-folders "
                                "(e.g. circle/take1.aedat4), one sample per file")
    return found


def load_recordings(folder: str | Path, size: int = 32, bin_ms: float = 10.0, duration_ms: float = 300.0,
                    test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    from drivers.dvs.readers import open_events

    folder = Path(folder)
    found = list_recordings(folder)
    classes = sorted({label for label, _ in found})
    counts = {c: sum(label == c for label, _ in found) for c in classes}
    if len(classes) < 2 or min(counts.values()) < 2:
        raise ValueError(f"{folder}: training needs at least two classes of at least two recordings each "
                         f"(found {counts})")
    bin_us = int(round(bin_ms * 1e3))
    n_bins = max(1, int(duration_ms * 1e3) // bin_us)
    x = np.zeros((len(found), n_bins, 2, size, size), np.float32)
    for i, (label, path) in enumerate(found):
        try:
            reader = open_events(path)
            ev = reader.read()
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not an event recording dvs.file reads: {exc}") from None
        if len(ev) == 0:
            raise ValueError(f"{path}: no events")
        scaled = ev.copy()
        scaled["x"] = ev["x"].astype(np.int64) * size // reader.width
        scaled["y"] = ev["y"].astype(np.int64) * size // reader.height
        x[i] = bin_events(scaled, n_bins, bin_us, size, size, int(ev["t"][0]))
    y = np.array([classes.index(label) for label, _ in found], np.int64)
    return Dataset(*split(x, y, test_fraction, seed), classes=classes, dt_s=bin_us * 1e-6,
                   meta={"data": "recordings", "folder": str(folder), "bin_us": bin_us, "n_bins": n_bins,
                         "width": size, "height": size})
