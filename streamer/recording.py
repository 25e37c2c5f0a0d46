"""Recordings: an append-only file of chunks, readable up to the last complete one.

    file   = MAGIC, chunk*
    chunk  = b"CHNK", u32 header length, u64 body length, header (msgpack), body, u32 crc32
    header = {k: stream name, s: stream type, m: metadata, o: t_origin, r: receive time,
              q: sequence number, a: [[name, dtype descr, shape], ...], d: item}
    body   = the raw array buffers in the order of `a`

Each chunk goes to the kernel in one `writev` as it arrives, so a process killed with
SIGKILL leaves every chunk it wrote readable; a torn last chunk (or a bad checksum) ends
the reading there, with `torn` set, and never raises.
"""
from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .streams import ARRAY_STREAMS, ITEM_STREAMS, SAMPLES, Message
from .wire import DATA, descr_dtype, dtype_descr, pack, unpack

MAGIC = b"STREAMER-REC\x00\x01\r\n"
CHUNK = b"CHNK"
_PREFIX = struct.Struct("<4sIQ")
_CRC = struct.Struct("<I")


class RecordingError(ValueError):
    pass


class Writer:
    """Appends messages to a recording, one unbuffered write per chunk."""

    def __init__(self, path: str | Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.fsync = fsync
        self.bytes = 0
        self._write([MAGIC])

    def write(self, name: str, msg: Message, t_received: float) -> None:
        header: dict[str, Any] = {"k": name, "s": msg.stream, "m": msg.meta, "o": msg.t_origin,
                                  "r": t_received, "q": msg.seq}
        arrays = [] if msg.stream in ITEM_STREAMS else [(DATA, msg.data)]
        arrays += list(msg.arrays.items())
        if msg.stream in ITEM_STREAMS:
            header["d"] = msg.data
        bufs, descr = [], []
        for arr_name, arr in arrays:
            arr = np.ascontiguousarray(arr)
            descr.append([arr_name, dtype_descr(arr.dtype), list(arr.shape)])
            bufs.append(memoryview(arr).cast("B") if arr.size else b"")
        header["a"] = descr
        hbytes = pack(header)
        body_len = sum(len(b) for b in bufs)
        crc = zlib.crc32(hbytes)
        for b in bufs:
            crc = zlib.crc32(b, crc)
        self._write([_PREFIX.pack(CHUNK, len(hbytes), body_len), hbytes, *bufs, _CRC.pack(crc)])
        if self.fsync:
            os.fsync(self.fd)

    def _write(self, parts: list) -> None:
        views = [memoryview(p).cast("B") for p in parts if len(p)]
        while views:
            n = os.writev(self.fd, views)
            self.bytes += n
            while views and n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            if views and n:
                views[0] = views[0][n:]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass
class Chunk:
    name: str
    message: Message
    t_received: float
    offset: int


class Reader:
    """Iterates over the chunks of a recording. `torn` tells whether the file ended inside
    a chunk (or at a bad checksum) after iteration."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.torn = False
        self.problem = ""
        with open(self.path, "rb") as f:
            head = f.read(len(MAGIC))
        if head != MAGIC:
            raise RecordingError(f"{self.path}: not a streamer recording (bad magic bytes); "
                                 "record with the `record` node")

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    def chunks(self, headers_only: bool = False) -> Iterator[Chunk]:
        self.torn, self.problem = False, ""
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            offset = len(MAGIC)
            f.seek(offset)
            while offset < size:
                prefix = f.read(_PREFIX.size)
                if len(prefix) < _PREFIX.size:
                    return self._tear(offset, "file ends inside a chunk prefix")
                tag, hlen, blen = _PREFIX.unpack(prefix)
                end = offset + _PREFIX.size + hlen + blen + _CRC.size
                if tag != CHUNK:
                    return self._tear(offset, "no chunk tag")
                if end > size:
                    return self._tear(offset, "file ends inside a chunk")
                hbytes = f.read(hlen)
                if headers_only:
                    f.seek(blen, os.SEEK_CUR)
                    (crc,) = _CRC.unpack(f.read(_CRC.size))
                    body = None
                else:
                    body = f.read(blen)
                    (crc,) = _CRC.unpack(f.read(_CRC.size))
                    if zlib.crc32(body, zlib.crc32(hbytes)) != crc:
                        return self._tear(offset, "checksum mismatch")
                try:
                    yield self._chunk(hbytes, body, offset)
                except (ValueError, KeyError, TypeError) as exc:
                    return self._tear(offset, f"unreadable chunk header ({exc})")
                offset = end

    def _tear(self, offset: int, why: str) -> None:
        self.torn = True
        self.problem = f"{self.path}: reading stopped at byte {offset}: {why}"

    def _chunk(self, hbytes: bytes, body: bytes | None, offset: int) -> Chunk:
        h = unpack(hbytes)
        arrays: dict[str, np.ndarray] = {}
        pos = 0
        for name, descr, shape in h["a"]:
            dtype = descr_dtype(descr)
            n = math.prod(shape) * dtype.itemsize
            if body is None:
                arrays[name] = np.empty(0, dtype)
            else:
                arrays[name] = np.frombuffer(body, dtype, offset=pos, count=math.prod(shape)).reshape(shape)
            pos += n
        data = h["d"] if h["s"] in ITEM_STREAMS else arrays.pop(DATA)
        msg = Message(h["s"], data, h["m"], float(h["o"]), arrays, int(h["q"]))
        return Chunk(h["k"], msg, float(h["r"]), offset)


def streams_of(path: str | Path) -> dict[str, str]:
    """Stream name -> stream type, read from the chunk headers only."""
    out: dict[str, str] = {}
    for chunk in Reader(path).chunks(headers_only=True):
        out.setdefault(chunk.name, chunk.message.stream)
    return out


@dataclass
class Recorded:
    """One recorded stream, concatenated."""

    name: str
    stream: str
    data: Any                       # Events: structured array; Samples: (channels, samples);
                                    # Frames/Spikes: concatenated on axis 0; items: list of dicts
    meta: dict
    t_origin: np.ndarray            # per message
    t_received: np.ndarray          # per message
    seq: np.ndarray                 # per message
    times: np.ndarray | None = None  # Samples: device time of each sample (s)
    messages: list[Message] = field(default_factory=list, repr=False)


def read(path: str | Path, keep_messages: bool = False) -> dict[str, Recorded]:
    """Every stream of a recording, its payload concatenated, with its metadata."""
    reader = Reader(path)
    parts: dict[str, list[Chunk]] = {}
    for chunk in reader:
        parts.setdefault(chunk.name, []).append(chunk)
    out = {}
    for name, chunks in parts.items():
        msgs = [c.message for c in chunks]
        stream = msgs[0].stream
        rec = Recorded(name, stream, None, dict(msgs[0].meta),
                       np.array([m.t_origin for m in msgs]), np.array([c.t_received for c in chunks]),
                       np.array([m.seq for m in msgs], dtype=np.int64),
                       messages=msgs if keep_messages else [])
        if stream in ITEM_STREAMS:
            rec.data = [m.data for m in msgs]
        elif stream == SAMPLES:
            rec.data = np.concatenate([m.data for m in msgs], axis=1)
            rec.times = np.concatenate([_sample_times(m) for m in msgs])
        elif stream in ARRAY_STREAMS:
            rec.data = concat([m.data for m in msgs])
        out[name] = rec
    return out


def concat(arrays: list[np.ndarray]) -> np.ndarray:
    """Concatenate on axis 0 keeping the dtype exactly (np.concatenate packs padded
    structured dtypes such as EVENT_DTYPE)."""
    out = np.empty((sum(len(a) for a in arrays),) + arrays[0].shape[1:], dtype=arrays[0].dtype)
    i = 0
    for a in arrays:
        out[i:i + len(a)] = a
        i += len(a)
    return out


def _sample_times(msg: Message) -> np.ndarray:
    if "times" in msg.arrays:
        return np.asarray(msg.arrays["times"], dtype=np.float64)
    n = msg.data.shape[1]
    return msg.meta.get("t_first", 0.0) + np.arange(n) / float(msg.meta.get("sfreq", 1.0))
