"""Open EEG/sEEG/ECoG recordings: everything MNE reads, plus MATLAB clips."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .mne_convert import units_for

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


def open_recording(path: str | Path, sfreq: float | None = None) -> Opened:
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

    try:
        raw = mne.io.read_raw(path, preload=False, verbose="error")
    except Exception as exc:  # noqa: BLE001 - MNE raises many types for bad files
        raise RecordingError(f"{path}: MNE cannot read it: {exc}") from exc
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
                  int(raw.n_times), lambda a, b: raw.get_data(start=a, stop=b), anns,
                  str(raw.info["meas_date"]) if raw.info["meas_date"] else None)


def _open_mat(path: Path, sfreq: float | None) -> Opened:
    import scipy.io

    try:
        m = scipy.io.loadmat(path, squeeze_me=False)
    except Exception as exc:  # noqa: BLE001
        raise RecordingError(f"{path}: not a readable MATLAB file: {exc}") from exc
    data = m.get("data")
    if not isinstance(data, np.ndarray) or data.ndim != 2:
        raise RecordingError(f"{path}: expected a 2-D variable 'data' (channels x samples); found "
                             f"{', '.join(k for k in m if not k.startswith('__'))}")
    for key in ("freq", "sfreq", "sampling_frequency", "fs"):
        if key in m and sfreq is None:
            sfreq = float(np.ravel(m[key])[0])
    if sfreq is None:
        raise RecordingError(f"{path}: no sampling rate in the file (freq, sfreq, fs); give `sfreq`")
    names = _mat_names(m.get("channels"), data.shape[0])
    data = np.asarray(data, dtype=np.float64)
    # The clips are in microvolts, as the challenge distributed them.
    return Opened(path, sfreq, names, ["ecog"] * len(names), ["V"] * len(names), data.shape[1],
                  lambda a, b: data[:, a:b] * 1e-6)


def _mat_names(channels, n: int) -> list[str]:
    names: list[str] = []

    def walk(x) -> None:  # MATLAB cell arrays arrive as nested object arrays
        if isinstance(x, str):
            names.append(x)
        elif isinstance(x, np.ndarray):
            if x.dtype.kind == "U":
                names.extend(str(v) for v in np.ravel(x))
            elif x.dtype.names:
                for name in x.dtype.names:
                    walk(x[name])
            else:
                for v in np.ravel(x):
                    walk(v)

    if channels is not None:
        walk(channels)
    return names if len(names) == n else [f"ch{i + 1}" for i in range(n)]
