"""XDF (LabRecorder's format) from a native recording: every stream of the graph in one
file, with clock offsets and boundary chunks, readable by `pyxdf.load_xdf`.

    file  = b"XDF:", chunk*
    chunk = length-of-length (1, 4 or 8), length, u16 tag, content
    tags  = 1 file header, 2 stream header, 3 samples, 4 clock offset, 5 boundary,
            6 stream footer (XML for 1, 2 and 6; binary for the others)

Time stamps are each stream's own clock, as LSL's are: Samples the device time of each
sample, Events their `t` (µs -> s), Frames their bins, Markers their `time_s`; items
without a device time (Decision, Command, Markers without `time_s`) the host monotonic
time of their origin. A clock-offset chunk per stream every `OFFSET_EVERY_S` gives
host time minus the stream's time at the moment the newest data of a chunk was
acquired, so `pyxdf.load_xdf(synchronize_clocks=True)` puts every stream on the host
clock. Markers with a `time_s` are on the clock of the recording's (first) Samples stream,
as the EEG sources stamp them and `to_raw` and the BIDS events read them: they take that
stream's offsets (their own arrival would misplace them by up to a chunk). Chunks follow the native file's order; a boundary chunk every `BOUNDARY_EVERY_S`
of host time lets a reader resynchronise after damage.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

import numpy as np

from .recording import Reader, _sample_times
from .streams import EVENTS, FRAMES, ITEM_STREAMS, MARKER, SAMPLES, SPIKES, Message

BOUNDARY = bytes([0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F,
                  0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4])
OFFSET_EVERY_S = 5.0
BOUNDARY_EVERY_S = 10.0
_FORMATS = {np.dtype("float32"): "float32", np.dtype("float64"): "double64", np.dtype("int8"): "int8",
            np.dtype("int16"): "int16", np.dtype("int32"): "int32", np.dtype("int64"): "int64"}


@dataclass
class _Stream:
    sid: int
    name: str
    kind: str
    channels: int
    fmt: str                      # XDF channel format
    first: float = math.nan
    last: float = math.nan
    count: int = 0
    offsets: list[tuple[float, float]] = field(default_factory=list)
    next_offset_at: float = -math.inf


def _chunk(f: BinaryIO, tag: int, content: bytes | memoryview) -> None:
    n = len(content) + 2
    if n < 256:
        f.write(struct.pack("<BB", 1, n))
    elif n < 1 << 32:
        f.write(struct.pack("<BI", 4, n))
    else:
        f.write(struct.pack("<BQ", 8, n))
    f.write(struct.pack("<H", tag))
    f.write(content)


def _offset(f: BinaryIO, s: _Stream, host: float, value: float) -> None:
    _chunk(f, 4, struct.pack("<Idd", s.sid, host, value))
    s.offsets.append((host, value))


def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 1 << 32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _channel_layout(msg: Message) -> tuple[int, str]:
    """(channels, XDF channel format) of a stream, from its first chunk."""
    if msg.stream in ITEM_STREAMS:
        return 1, "string"
    if msg.stream == SAMPLES:
        return int(msg.data.shape[0]), "float32"
    if msg.stream == EVENTS:
        return 4, "int64"
    width = int(np.prod(msg.data.shape[1:])) if msg.data.ndim > 1 else 1
    return width, _FORMATS.get(msg.data.dtype, "float32")


def _header_xml(s: _Stream, msg: Message) -> str:
    meta = msg.meta
    srate = 0.0
    desc = ""
    if msg.stream == SAMPLES:
        srate = float(meta["sfreq"])
        names = meta["ch_names"]
        types = meta.get("ch_types") or ["eeg"] * len(names)
        units = meta.get("units") or ["V"] * len(names)
        desc = "<channels>" + "".join(
            f"<channel><label>{escape(str(n))}</label><unit>{escape(str(u))}</unit>"
            f"<type>{escape(str(t).upper())}</type></channel>"
            for n, t, u in zip(names, types, units)) + "</channels>"
    elif msg.stream == EVENTS:
        desc = ("<channels>" + "".join(f"<channel><label>{c}</label></channel>" for c in "xypt")
                + f"</channels><width>{int(meta['width'])}</width><height>{int(meta['height'])}</height>")
    elif msg.stream == FRAMES:
        srate = 1e6 / float(meta["bin_us"])
        desc = f"<shape>{' '.join(str(n) for n in msg.data.shape[1:])}</shape>"
    elif msg.stream == SPIKES and meta.get("dt_s"):
        srate = 1.0 / float(meta["dt_s"])
    plain = {k: v for k, v in meta.items() if k not in ("ch_names", "ch_types", "units")}
    desc += f"<streamer><stream>{msg.stream}</stream><meta>{escape(json.dumps(plain, default=str))}</meta></streamer>"
    return (f'<?xml version="1.0"?><info><name>{escape(s.name)}</name><type>{escape(s.kind)}</type>'
            f"<channel_count>{s.channels}</channel_count><nominal_srate>{srate!r}</nominal_srate>"
            f"<channel_format>{s.fmt}</channel_format><source_id>streamer:{escape(s.name)}</source_id>"
            f"<desc>{desc}</desc></info>")


def _kind(msg: Message) -> str:
    """LSL's conventional content types where there is one."""
    if msg.stream == SAMPLES:
        types = set(msg.meta.get("ch_types") or ["eeg"])
        return next(iter(types)).upper() if len(types) == 1 else "Mixed"
    return {MARKER: "Markers"}.get(msg.stream, msg.stream)


def _stamps_and_values(msg: Message) -> tuple[np.ndarray, np.ndarray | list[str], bool]:
    """(time stamps, values, whether the stamps are the stream's own device clock)."""
    if msg.stream == SAMPLES:
        return _sample_times(msg), np.ascontiguousarray(msg.data.T, dtype="<f4"), True
    if msg.stream == EVENTS:
        ev = msg.data
        vals = np.empty((len(ev), 4), "<i8")
        vals[:, 0], vals[:, 1], vals[:, 2], vals[:, 3] = ev["x"], ev["y"], ev["p"], ev["t"]
        return ev["t"].astype(np.float64) * 1e-6, vals, True
    if msg.stream in ITEM_STREAMS:
        item = msg.data
        t = item.get("time_s", math.nan) if msg.stream == MARKER else math.nan
        device = isinstance(t, (int, float)) and math.isfinite(t)
        text = str(item.get("label", "")) if msg.stream == MARKER else json.dumps(item, default=str)
        return np.array([t if device else msg.t_origin]), [text], device
    data = msg.data.reshape(len(msg.data), -1)
    if msg.stream == FRAMES:
        bin_s = float(msg.meta["bin_us"]) * 1e-6
        stamps = float(msg.meta.get("t_first_us", 0)) * 1e-6 + np.arange(len(data)) * bin_s
        return stamps, data, True
    dt = msg.meta.get("dt_s") or 0.0
    stamps = int(msg.meta.get("step", 0)) * dt + np.arange(len(data)) * dt if dt else np.full(len(data), msg.t_origin)
    return stamps, data, bool(dt)


def _samples_chunk(sid: int, stamps: np.ndarray, values: Any, fmt: str) -> bytes:
    n = len(stamps)
    head = struct.pack("<I", sid) + _varlen(n)
    if fmt == "string":
        parts = [head]
        for t, text in zip(stamps.tolist(), values):
            raw = text.encode("utf-8")
            parts.append(b"\x08" + struct.pack("<d", t) + _varlen(len(raw)) + raw)
        return b"".join(parts)
    values = np.ascontiguousarray(values)
    # One record per sample: 8 (time-stamp bytes), the stamp, the channel values.
    rec = np.dtype([("n", "u1"), ("t", "<f8"), ("v", values.dtype.newbyteorder("<"), values.shape[1:])])
    out = np.empty(n, rec)
    out["n"], out["t"], out["v"] = 8, stamps, values
    return head + out.tobytes()


def write_xdf(source: str | Path, out: str | Path, *, stream: str | None = None,
              info: dict[str, Any] | None = None) -> Path:
    """Write the native recording `source` as XDF at `out`; returns `out`.

    `stream`: write that stream alone (default: every stream of the recording).

    `info`: extra fields for the file header (subject, session...), written as XML
    elements under <info>. Damaged parts of the source are skipped as `read` skips them.
    The file appears whole or not at all (written beside it, then renamed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    reader = Reader(source)
    streams_by_name: dict[str, _Stream] = {}
    tmp = out.with_name(out.name + ".part")
    extra = "".join(f"<{escape(k)}>{escape(str(v))}</{escape(k)}>" for k, v in (info or {}).items() if v is not None)
    with open(tmp, "wb") as f:
        f.write(b"XDF:")
        _chunk(f, 1, (f'<?xml version="1.0"?><info><version>1.0</version>'
                      f"<writer>streamer</writer>{extra}</info>").encode())
        next_boundary = -math.inf
        clock: _Stream | None = None          # the first Samples stream: the markers' clock
        followers: list[_Stream] = []          # Marker streams that take its offsets
        for chunk in reader.chunks():
            if stream is not None and chunk.name != stream:
                continue
            msg = chunk.message
            s = streams_by_name.get(chunk.name)
            if s is None:
                channels, fmt = _channel_layout(msg)
                s = streams_by_name[chunk.name] = _Stream(len(streams_by_name) + 1, chunk.name, _kind(msg), channels, fmt)
                _chunk(f, 2, struct.pack("<I", s.sid) + _header_xml(s, msg).encode("utf-8"))
                if msg.stream == SAMPLES and clock is None:
                    clock = s
                elif msg.stream == MARKER:
                    followers.append(s)
            stamps, values, device = _stamps_and_values(msg)
            if msg.stream not in ITEM_STREAMS and (msg.data.ndim < 1 or
                                                    (len(values) and np.shape(values)[1:] != (s.channels,))):
                continue  # a chunk of another shape than the stream's first: `read` leaves it out too
            if not len(stamps):
                continue
            host = chunk.t_received if math.isfinite(chunk.t_received) else msg.t_origin
            if s in followers and clock is not None:
                if clock.offsets and not s.offsets:
                    _offset(f, s, *clock.offsets[-1])
            elif device and math.isfinite(msg.t_origin) and host >= s.next_offset_at:
                _offset(f, s, host, msg.t_origin - float(stamps[-1]))
                s.next_offset_at = host + OFFSET_EVERY_S
                if s is clock:
                    for other in followers:
                        _offset(f, other, host, s.offsets[-1][1])
            _chunk(f, 3, _samples_chunk(s.sid, stamps, values, s.fmt))
            s.first = float(stamps[0]) if s.count == 0 else s.first
            s.last = float(stamps[-1])
            s.count += len(stamps)
            if math.isfinite(host) and host >= next_boundary:
                _chunk(f, 5, BOUNDARY)
                next_boundary = host + BOUNDARY_EVERY_S
        for s in streams_by_name.values():
            offsets = "".join(f"<offset><time>{t!r}</time><value>{v!r}</value></offset>" for t, v in s.offsets)
            footer = (f'<?xml version="1.0"?><info><first_timestamp>{s.first!r}</first_timestamp>'
                      f"<last_timestamp>{s.last!r}</last_timestamp><sample_count>{s.count}</sample_count>"
                      f"<clock_offsets>{offsets}</clock_offsets></info>")
            _chunk(f, 6, struct.pack("<I", s.sid) + footer.encode("utf-8"))
    tmp.replace(out)  # a reader never sees half a file
    return out
