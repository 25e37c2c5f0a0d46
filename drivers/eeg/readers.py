"""Open EEG/sEEG/ECoG recordings: everything MNE reads, plus MATLAB clips."""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .mat_clips import MatError, load_clip
from .mne_convert import units_for
from .truncation import find_truncation

log = logging.getLogger(__name__)

# Extensions MNE reads through mne.io.read_raw, and MATLAB clips read here.
MNE_EXTENSIONS = (".edf", ".bdf", ".gdf", ".fif", ".fif.gz", ".vhdr", ".ahdr", ".set", ".lay", ".cnt",
                  ".mff", ".nxe", ".eeg", ".nedf", ".mefd", ".snirf", ".sqd", ".con", ".ds")
MAT_EXTENSIONS = (".mat",)


class RecordingError(ValueError):
    pass


@dataclass
class Opened:
    """A recording opened lazily: `read(start, stop)` returns (channels, samples) in volts."""

    path: Path
    sfreq: float
    ch_names: list[str]
    ch_types: list[str]
    units: list[str]
    n_samples: int
    read: Callable[[int, int], np.ndarray]
    # (onset sample, onset s, duration s, description) of each annotation, sorted
    annotations: list[tuple[int, float, float, str]] = field(default_factory=list)
    meas_date: str | None = None


def open_recording(path: str | Path, sfreq: float | None = None, allow_truncated: bool = False) -> Opened:
    """Opens a recording lazily. A truncated one (drivers/eeg/truncation.py) is refused
    with the declared and present lengths, or, with `allow_truncated`, opened for the part
    that is there with a warning naming what is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such recording")
    name = path.name.lower()
    if name.endswith(MAT_EXTENSIONS):
        return _open_mat(path, sfreq)
    if not name.endswith(MNE_EXTENSIONS):
        raise RecordingError(f"{path}: unsupported file type; eeg.file reads "
                             f"{', '.join(MNE_EXTENSIONS + MAT_EXTENSIONS)}")
    import mne

    with warnings.catch_warnings(record=True) as caught:  # MNE warns of a cut FIF
        warnings.simplefilter("always")
        try:
            raw = mne.io.read_raw(path, preload=False, verbose="warning")
        except Exception as exc:  # noqa: BLE001 - MNE raises many types for bad files
            raise RecordingError(f"{path}: MNE cannot read it: {exc}") from exc
    n_samples = int(raw.n_times)
    cut = find_truncation(path, raw, caught)
    if cut is not None:
        if not allow_truncated:
            raise RecordingError(cut.error())
        log.warning("%s", cut.warning())
        n_samples = min(n_samples, cut.present)
    first = raw.first_samp
    anns = []
    for onset, duration, desc in zip(raw.annotations.onset, raw.annotations.duration,
                                     raw.annotations.description):
        # Annotation onsets are relative to the first sample once orig_time is accounted for.
        sample = int(np.round(onset * raw.info["sfreq"])) - (first if raw.annotations.orig_time is not None else 0)
        anns.append((sample, float(sample / raw.info["sfreq"]), float(duration), str(desc)))
    anns.sort(key=lambda a: a[0])
    units = units_for(raw.get_channel_types())
    return Opened(path, float(raw.info["sfreq"]), list(raw.ch_names), list(raw.get_channel_types()), units,
                  n_samples, lambda a, b: raw.get_data(start=a, stop=b), anns,
                  str(raw.info["meas_date"]) if raw.info["meas_date"] else None)


def _open_mat(path: Path, sfreq: float | None) -> Opened:
    try:
        data, sfreq, names = load_clip(path, sfreq)
    except MatError as exc:
        raise RecordingError(str(exc)) from None
    # The clips are in microvolts, as the challenge distributed them.
    return Opened(path, sfreq, names, ["ecog"] * len(names), ["V"] * len(names), data.shape[1],
                  lambda a, b: data[:, a:b] * 1e-6)
