"""What LSL stream descriptions say about channels, in both directions.

LSL's conventions (XDF meta-data): `desc/channels/channel/{label,type,unit}`, types in
capitals (EEG, EMG, ...), EEG in microvolts. Inside the pipeline: MNE's lower-case types
and volts.
"""
from __future__ import annotations

import time

# Units LSL streams use, and the factor that turns them into volts.
TO_VOLTS = {"microvolts": 1e-6, "microvolt": 1e-6, "uv": 1e-6, "µv": 1e-6, "millivolts": 1e-3,
            "mv": 1e-3, "volts": 1.0, "volt": 1.0, "v": 1.0, "nanovolts": 1e-9, "nv": 1e-9}
UNIT_NAMES = {"microvolts": 1e-6, "millivolts": 1e-3, "volts": 1.0}
MARKER_TYPES = {"markers", "marker", "events", "event", "stim", "triggers"}


def clock_offset() -> float:
    """LSL's local_clock() minus the host monotonic clock of `t_origin` (0 on Linux,
    where both read CLOCK_MONOTONIC); measured, not assumed."""
    import pylsl

    best = None
    for _ in range(5):
        a = time.monotonic()
        lsl = pylsl.local_clock()
        b = time.monotonic()
        if best is None or b - a < best[0]:
            best = (b - a, lsl - (a + b) / 2)
    return best[1]


def mne_type(lsl_type: str | None, default: str) -> str:
    """MNE channel type for an LSL channel type ('EEG' -> 'eeg'; unknown -> default)."""
    import mne

    t = (lsl_type or "").strip().lower()
    return t if t and t in mne.io.get_channel_type_constants() else default


def read_channels(info, default_type: str) -> tuple[list[str], list[str], list[float]]:
    """(names, MNE types, factor to volts or 1) of each channel of a full StreamInfo."""
    n = info.channel_count()
    labels = info.get_channel_labels() or [None] * n
    types = info.get_channel_types() or [None] * n
    units = info.get_channel_units() or [None] * n
    names = [lab or f"ch{i + 1}" for i, lab in enumerate(labels)]
    mtypes = [mne_type(t, default_type) for t in types]
    scale = [TO_VOLTS.get((u or "").strip().lower(), 1.0) for u in units]
    return names, mtypes, scale


def write_channels(info, names: list[str], types: list[str], units: list[str]) -> None:
    """Channel labels, types and units into the description, as XDF readers expect."""
    info.set_channel_labels(list(names))
    info.set_channel_types([t.upper() for t in types])
    info.set_channel_units(list(units))
