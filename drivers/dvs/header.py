"""The `% key value` text header of Prophesee RAW and DAT files, and what it says.

RAW headers name the encoding in `% format EVT3;height=720;width=1280` (current), or
`% evt 3.0` plus `% geometry 1280x720` (older), or only `% system_ID 21` (oldest); the
system-ID table below is OpenEB's, for headers that give neither format nor geometry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .errors import EventFileError

MAX_HEADER_BYTES = 1 << 20
MAX_LINE_BYTES = 64 << 10

# system_ID -> (format, width, height), as OpenEB infers them for legacy RAW headers.
SYSTEM_IDS: dict[int, tuple[str, int, int]] = {
    0x15: ("EVT2", 640, 480),   # CCAM3 Gen3
    0x1C: ("EVT2", 640, 480),   # CCAM3 Gen3.1
    0x1A: ("EVT2", 1280, 720),  # CCAM3 Gen4
    0x17: ("EVT2", 640, 480),   # CCAM4 Gen3 (rev A)
    0x97: ("EVT2", 640, 480),   # CCAM4 Gen3 EVK
    0x19: ("EVT2", 640, 480),   # CCAM4 Gen3 rev B
    0x99: ("EVT2", 640, 480),   # CCAM4 Gen3 rev B EVK
    0x1D: ("EVT2", 640, 480),   # CCAM4 Gen3 rev B EVK bridge
    0x23: ("EVT2", 640, 480),   # CCAM5 Gen3.1 / EVK3 Gen3.1 EVT2
    0x1E: ("EVT3", 1280, 720),  # CCAM5 Gen4
    0x2E: ("EVT3", 1280, 720),  # CCAM5 Gen4 fixed frame
    0x21: ("EVT2", 640, 480),   # VisionCam Gen3
    0xA1: ("EVT2", 640, 480),   # VisionCam Gen3 EVK
    0x22: ("EVT2", 640, 480),   # VisionCam Gen3.1
    0xA2: ("EVT2", 640, 480),   # VisionCam Gen3.1 EVK
    0x29: ("EVT2", 640, 480),   # EVK2 Gen3.1
    0x1F: ("EVT2", 1280, 720),  # EVK2 Gen4
    0x27: ("EVT2", 1280, 720),  # EVK2 Gen4.1
    0x28: ("EVT3", 640, 480),   # EVK3 Gen3.1 EVT3
    0x30: ("EVT3", 1280, 720),  # EVK3 Gen4.1
    0x31: ("EVT3", 1280, 720),  # EVK3 IMX636
    0x32: ("EVT3", 1280, 720),  # EVK2 IMX636
}

RAW_FORMATS = ("EVT2", "EVT21", "EVT3")
_LEGACY_EVT = {"2.0": "EVT2", "2.1": "EVT21", "3.0": "EVT3"}


@dataclass
class Header:
    """What a `%` header holds: its fields, where the binary data start, and for RAW files
    the encoding and sensor size it implies."""

    fields: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    data_offset: int = 0
    format: str | None = None
    width: int | None = None
    height: int | None = None
    options: dict[str, str] = field(default_factory=dict)  # of the format line (endianness...)


def read_header(f: BinaryIO, path: str | Path) -> Header:
    """Read `%` lines from the start of a file (ends at the first other byte or `% end`)."""
    h = Header()
    f.seek(0)
    pos = 0
    while True:
        first = f.read(1)
        if first != b"%":
            break
        line = f.readline(MAX_LINE_BYTES)
        if not line.endswith(b"\n"):
            raise EventFileError(path, pos, "header line without an end of line",
                                 "the file is truncated inside its '%' header or is not an event file")
        text = line.decode("latin-1").strip()
        pos += 1 + len(line)
        if pos > MAX_HEADER_BYTES:
            raise EventFileError(path, pos, "'%' header longer than 1 MiB", "not an event file")
        h.lines.append(text)
        if text == "end":
            break
        key, _, value = text.partition(" ")
        if key:
            h.fields[key] = value.strip()
    h.data_offset = pos
    f.seek(pos)
    return h


def _int(path, value: str, what: str, offset: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise EventFileError(path, offset, f"{what} {value!r} is not an integer") from None
    if not 0 < n <= 1 << 16:
        raise EventFileError(path, offset, f"{what} {n} is not a sensor size")
    return n


def resolve_raw(h: Header, path: str | Path) -> Header:
    """Fill format and geometry of a RAW header the way OpenEB does (format line, then the
    legacy `evt` and `geometry` keys, then the system-ID table)."""
    fmt = None
    if "format" in h.fields:
        parts = [p.strip() for p in h.fields["format"].split(";") if p.strip()]
        fmt = parts[0].upper() if parts else ""
        for p in parts[1:]:
            k, _, v = p.partition("=")
            h.options[k.strip().lower()] = v.strip()
        if "width" in h.options:
            h.width = _int(path, h.options["width"], "format width", 0)
        if "height" in h.options:
            h.height = _int(path, h.options["height"], "format height", 0)
        fmt = {"EVT2.0": "EVT2", "EVT2.1": "EVT21", "EVT3.0": "EVT3"}.get(fmt, fmt)
    elif "evt" in h.fields:
        version = h.fields["evt"]
        fmt = _LEGACY_EVT.get(version)
        if fmt is None:
            raise EventFileError(path, 0, f"unknown event format 'evt {version}'",
                                 "supported: evt 2.0, 2.1, 3.0")
    if h.width is None and "geometry" in h.fields:
        w, _, hh = h.fields["geometry"].lower().partition("x")
        h.width = _int(path, w, "geometry width", 0)
        h.height = _int(path, hh, "geometry height", 0)
    if h.width is None and "width" in h.fields and "height" in h.fields:
        h.width = _int(path, h.fields["width"], "width", 0)
        h.height = _int(path, h.fields["height"], "height", 0)
    sid = h.fields.get("system_ID")
    known = None
    if sid is not None:
        try:
            known = SYSTEM_IDS.get(int(sid, 0))
        except ValueError:
            known = None
    if fmt is None:
        if known is None:
            raise EventFileError(path, 0, "the header names no event format (no 'format' or 'evt' "
                                 f"line, system_ID {sid!r} unknown)",
                                 "add a line '% format EVT3;width=W;height=H' (or EVT2, EVT21)")
        fmt = known[0]
    if fmt not in RAW_FORMATS:
        raise EventFileError(path, 0, f"unsupported event format {fmt!r}",
                             f"supported RAW formats: {', '.join(RAW_FORMATS)}")
    if h.width is None or h.height is None:
        if known is None:
            raise EventFileError(path, 0, "the header gives no sensor size (no geometry, "
                                 f"system_ID {sid!r} unknown)",
                                 "add a line '% geometry WxH' or pass width= and height=")
        h.width, h.height = known[1], known[2]
    h.format = fmt
    return h
