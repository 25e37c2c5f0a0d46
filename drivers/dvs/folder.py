"""A folder of labelled N-MNIST samples read as one event stream: the samples one after
the other on a single device clock, each announced by a trigger that carries its class.

Two layouts are recognised:
- `labels.txt` ("<id> <label>" lines, `#` comments) beside `<id>.bin` files;
- `<label>/<file>.bin` sub-folders, the layout of the N-MNIST distribution
  (Train/0/00002.bin ...), taken in the order of the file names so that classes mix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from streamer import streams

from .nmnist import HEIGHT, WIDTH, read_nmnist
from .readers import TRIGGER_DTYPE, EventReader, empty_triggers

# Samples start on whole milliseconds, so bins of 1 ms (or any divisor of it) begin at
# each sample's start, as they do when a sample is binned on its own.
ALIGN_US = 1000


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str   # class name, as written in labels.txt or as the sub-folder's name
    index: int   # class index: the label itself when labels are integers


def _natural(name: str) -> tuple:
    return tuple(int(s) if s.isdigit() else s for s in re.split(r"(\d+)", name))


def _from_labels_file(folder: Path, table: Path) -> list[tuple[Path, str]]:
    out = []
    for n, line in enumerate(table.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{table}:{n}: expected '<sample id> <label>', got {line!r}")
        path = folder / f"{fields[0]}.bin"
        if not path.is_file():
            raise FileNotFoundError(f"{table}:{n}: sample {fields[0]} has no file {path}")
        out.append((path, fields[1]))
    return out


def _from_class_folders(folder: Path) -> list[tuple[Path, str]]:
    found = [(p, d.name) for d in folder.iterdir() if d.is_dir() for p in d.glob("*.bin")]
    return sorted(found, key=lambda s: (_natural(s[0].name), _natural(s[1])))


def list_samples(folder: str | Path, limit: int = 0) -> list[Sample]:
    """The labelled samples of an N-MNIST folder, in replay order (the first `limit` if set)."""
    folder = Path(folder)
    table = folder / "labels.txt"
    pairs = _from_labels_file(folder, table) if table.is_file() else _from_class_folders(folder)
    if not pairs:
        raise FileNotFoundError(f"{folder}: no labelled N-MNIST samples; expected labels.txt beside "
                                "<id>.bin files, or <label>/<file>.bin sub-folders")
    names = sorted({label for _, label in pairs}, key=_natural)
    numeric = all(label.isdigit() for label in names)
    index = {label: int(label) if numeric else i for i, label in enumerate(names)}
    pairs = pairs[:limit] if limit else pairs
    return [Sample(path, label, index[label]) for path, label in pairs]


class SampleFolder(EventReader):
    """N-MNIST samples of a folder one after the other: a sample starts `gap_us` after the
    previous one's last event, rounded up to a whole millisecond, at its first event (the
    recordings start 0.2-4 ms after their file's zero; tonic's loaders bin from the first
    event too). Each start is a trigger (id = class index, p = 1), which `markers()` turns
    into a labelled Marker."""

    format = "NMNIST folder"
    width, height = WIDTH, HEIGHT

    def __init__(self, path: str | Path, limit: int = 0, gap_us: int = 10_000) -> None:
        super().__init__(path)
        self.samples = list_samples(path, limit)
        self.gap_us = int(gap_us)
        self.span_us: int | None = None  # device time of one pass, known after the first
        self._announced = 0

    def chunks_and_triggers(self, max_events: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        t0 = 0
        for s in self.samples:
            ev = read_nmnist(s.path)
            if len(ev):
                ev["t"] += t0 - ev["t"].min()
            yield ev[:max_events], np.array([(t0, s.index, 1)], TRIGGER_DTYPE)
            for i in range(max_events, len(ev), max_events):
                yield ev[i:i + max_events], empty_triggers()
            end = (int(ev["t"].max()) + 1 if len(ev) else t0) + self.gap_us
            t0 = -(-end // ALIGN_US) * ALIGN_US
        self.span_us = t0

    def markers(self, tr: np.ndarray, source: str, t_origin: float) -> list:
        """One Marker per sample start, in order: label = class name, value = class index,
        time_s = start (s, device clock), sample = the file's path inside the folder."""
        out = []
        for row in tr:
            s = self.samples[self._announced % len(self.samples)]
            self._announced += 1
            out.append(streams.marker(s.label, s.index, time_s=int(row["t"]) * 1e-6, source=source,
                                      t_origin=t_origin, sample=str(s.path.relative_to(self.path))))
        return out
