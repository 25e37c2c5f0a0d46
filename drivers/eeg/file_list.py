"""The files `eeg.file` replays one after another: paths and glob patterns expanded,
ordered, optionally shuffled, and labelled from their names."""
from __future__ import annotations

import glob
import re
from pathlib import Path

import numpy as np

GLOB_CHARS = re.compile(r"[*?\[]")


def natural_key(path: Path) -> list:
    """Sort key that orders numbers in a name by value: segment_2 before segment_10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def expand(paths: str | list[str], shuffle_seed: int | None = None) -> list[Path]:
    """Every file to replay, in order: each entry is a file, or a glob pattern whose
    matches are taken in natural order, or shuffled reproducibly with a seed (the entries
    keep their order, so a first pattern can hold calibration data and a second the rest)."""
    entries = [paths] if isinstance(paths, str) else list(paths)
    if not entries:
        raise ValueError("path is an empty list; give a recording, a list of them or a glob pattern")
    files: list[Path] = []
    rng = np.random.default_rng(shuffle_seed)
    for entry in entries:
        # An existing file is taken as it is, even if its name holds glob characters.
        if Path(entry).exists() or not GLOB_CHARS.search(entry):
            files.append(Path(entry))
            continue
        matches = sorted((Path(m) for m in glob.glob(entry) if Path(m).is_file()), key=natural_key)
        if not matches:
            raise FileNotFoundError(f"{entry}: no file matches this pattern")
        if shuffle_seed is not None:
            matches = [matches[i] for i in rng.permutation(len(matches))]
        files += matches
    return files


def file_labels(files: list[Path], pattern: str) -> list[str]:
    """The label of each file: its name's match of `pattern`, the first group if it has one."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"file_label {pattern!r} is not a regular expression: {exc}") from None
    labels = []
    for f in files:
        m = rx.search(f.name)
        if m is None:
            raise ValueError(f"{f}: its name does not match file_label {pattern!r}")
        labels.append(m.group(1) if rx.groups else m.group(0))
    return labels
