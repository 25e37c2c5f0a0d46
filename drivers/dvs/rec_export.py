"""A native recording's Events stream as AEDAT4 (dv-processing's writer) or Prophesee
RAW EVT 3.0: the same events, times in µs as recorded, the sensor size from the stream."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamer import recording
from streamer.formats import pick_stream
from streamer.streams import EVENTS

from .writers import write_aedat4, write_raw


def events_from_recording(source: str | Path, stream: str | None = None) -> tuple[np.ndarray, int, int]:
    """(events, width, height) of the recording's Events stream (default: the only one)."""
    path = Path(source)
    rec = recording.read(path)
    rec_stream = rec[pick_stream(rec, EVENTS, stream, path)]
    return rec_stream.data, int(rec_stream.meta["width"]), int(rec_stream.meta["height"])


def write_aedat4_recording(source: str | Path, out: str | Path, *, stream: str | None = None,
                           info: dict[str, Any] | None = None) -> Path:
    events, width, height = events_from_recording(source, stream)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_aedat4(out, events, width, height)
    return out


def write_evt3_recording(source: str | Path, out: str | Path, *, stream: str | None = None,
                         info: dict[str, Any] | None = None) -> Path:
    events, width, height = events_from_recording(source, stream)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_raw(out, events, width, height, "EVT3")
    return out
