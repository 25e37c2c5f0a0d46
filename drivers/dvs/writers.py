"""Writers: Prophesee RAW (EVT 3.0 or EVT 2.0, with a complete header) and AEDAT4."""
from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from streamer.streams import EVENT_DTYPE

from . import evt2, evt3
from .aedat4 import write_aedat4
from .readers import TRIGGER_DTYPE, empty_triggers

__all__ = ["write_raw", "write_aedat4", "write_events"]


def _check(events: np.ndarray, triggers: np.ndarray, width: int, height: int, fmt: str) -> None:
    if events.dtype != EVENT_DTYPE:
        raise TypeError(f"events must have EVENT_DTYPE, got {events.dtype}")
    if len(events):
        if np.any(np.diff(events["t"]) < 0) or events["t"][0] < 0:
            raise ValueError("events must be sorted by time, from t >= 0 (sort them by 't' first)")
        if events["x"].max() >= width or events["y"].max() >= height:
            raise ValueError(f"events lie outside the {width}x{height} sensor")
    if len(triggers) and np.any(np.diff(triggers["t"]) < 0):
        raise ValueError("triggers must be sorted by time")
    limit = 1 << 34 if fmt == "EVT2" else 1 << 62
    last = max(int(events["t"][-1]) if len(events) else 0, int(triggers["t"][-1]) if len(triggers) else 0)
    if last >= limit:
        raise ValueError(f"time {last} µs does not fit the 34 bits of EVT 2.0; write EVT 3.0")
    if fmt == "EVT3" and (width > 2048 or height > 2048):
        raise ValueError("EVT 3.0 addresses at most 2048x2048 pixels")


def write_raw(path: str | Path, events: np.ndarray, width: int, height: int, fmt: str = "EVT3",
              triggers: np.ndarray | None = None, **header: str) -> int:
    """Write a RAW file OpenEB and our reader both open; returns the number of bytes.

    The header has OpenEB's current `format` line, the legacy `evt` and `geometry` lines
    for older readers, a date and any extra `key=value` given."""
    fmt = fmt.upper()
    if fmt not in ("EVT3", "EVT2"):
        raise ValueError(f"cannot write {fmt!r}; choose EVT3 or EVT2")
    triggers = empty_triggers() if triggers is None else np.asarray(triggers, TRIGGER_DTYPE)
    _check(events, triggers, width, height, fmt)
    wdtype = "<u2" if fmt == "EVT3" else "<u4"
    # worst case per event: EVT3 TIME_HIGH steps, TIME_LOW, ADDR_Y, ADDR_X
    last = int(events["t"][-1]) if len(events) else 0
    n_max = 4 * (len(events) + len(triggers)) + 2 + (last >> 22) + 8
    words = np.empty(n_max, np.int64)
    args = (events["x"], events["y"], events["p"], events["t"], triggers["t"], triggers["id"], triggers["p"])
    n = evt3.encode(*args, int(width), words) if fmt == "EVT3" else evt2.encode(*args, words)
    lines = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "evt": "3.0" if fmt == "EVT3" else "2.0",
        "format": f"{fmt};height={int(height)};width={int(width)}",
        "geometry": f"{int(width)}x{int(height)}",
        "integrator_name": "streamer",
        **{k: str(v) for k, v in header.items()},
    }
    text = "".join(f"% {k} {v}\n" for k, v in lines.items()) + "% end\n"
    data = text.encode("ascii") + words[:n].astype(wdtype).tobytes()
    Path(path).write_bytes(data)
    return len(data)


def write_events(path: str | Path, events: np.ndarray, width: int, height: int,
                 triggers: np.ndarray | None = None) -> None:
    """Write by extension: .raw (EVT 3.0) or .aedat4."""
    suffix = Path(path).suffix.lower()
    if suffix == ".raw":
        write_raw(path, events, width, height, "EVT3", triggers)
    elif suffix == ".aedat4":
        write_aedat4(path, events, width, height, triggers)
    else:
        raise ValueError(f"{path}: cannot write {suffix or 'no extension'!r}; use .raw or .aedat4")
