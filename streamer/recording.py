"""Recordings: an append-only file of chunks that stays readable whatever happens to it.

    file   = MAGIC (version 2), chunk*
    chunk  = SYNC (8 bytes), u32 header length, u64 body length,
             u32 crc32 of the two lengths and the header, header (msgpack), body,
             u32 crc32 of the body
    header = {k: stream name, s: stream type, m: metadata, o: t_origin, r: receive time,
              q: sequence number, a: [[name, dtype descr, shape], ...], d: item}
    body   = the raw array buffers in the order of `a`

Each chunk goes to the kernel in one `writev` as it arrives, so a process killed with
SIGKILL leaves every chunk it wrote readable. Every chunk starts with the same sync
marker (as XDF's boundary chunks do, but with each chunk): after a torn or corrupt chunk
the reader looks for the next marker and goes on, so one bad byte costs one chunk, not
the rest of the file. What it skips is reported (byte offsets and why), never raised.
Declared sizes are checked against the chunk before anything is allocated, and every
message is checked against its stream type (`streams.validate`).

Version 1 files (b"CHNK" instead of the sync marker, one crc32 over header and body)
are still read, with the same resynchronisation on the 4-byte tag.

A recorder writes to a fresh file when a run starts (an existing one is replaced) and
appends when the runtime restarts it within the run (`Writer(append=True)`). By default
the file is forced to the disk once a second from a background thread, so a recording
survives a power loss up to the last second; `fsync="chunk"` forces every chunk,
`fsync="never"` leaves it to the kernel.
"""
from __future__ import annotations

import logging
import math
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from . import streams
from .streams import ARRAY_STREAMS, ITEM_STREAMS, MARKER, MAX_DIMS, MAX_ITEMS, SAMPLES, STREAM_TYPES, Message
from .wire import ALIGN, DATA, MAX_HEADER_BYTES, descr_dtype, dtype_descr, pack, unpack

log = logging.getLogger("streamer.recording")

MAGIC_PREFIX = b"STREAMER-REC\x00"
MAGIC_V1 = MAGIC_PREFIX + b"\x01\r\n"
MAGIC = MAGIC_PREFIX + b"\x02\r\n"
VERSION = 2
# Eight bytes that text, numbers and msgpack rarely hold; the checksums catch the rest.
SYNC = b"\xf6\x1e\x8a\x5b\xc2\x37\x9d\x04"
_PREFIX = struct.Struct("<8sIQI")      # sync, header length, body length, header crc
_PREFIX_V1 = struct.Struct("<4sIQ")    # b"CHNK", header length, body length
_CRC = struct.Struct("<I")
_SCAN_BLOCK = 1 << 20
MAX_ARRAYS = 64                        # arrays in one chunk (data and extras)
FSYNC_MODES = ("periodic", "chunk", "never")


class RecordingError(ValueError):
    pass


class Writer:
    """Appends messages to a recording, one unbuffered write per chunk.

    `append`: go on writing an existing recording of this version (a restarted recorder)
    instead of replacing it. `fsync`: "periodic" forces the file to the disk every
    `fsync_interval_s` from a background thread (the writes never wait for the disk),
    "chunk" after every chunk, "never" leaves it to the kernel."""

    def __init__(self, path: str | Path, *, append: bool = False, fsync: str = "periodic",
                 fsync_interval_s: float = 1.0) -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_MODES)}, got {fsync!r}")
        if not fsync_interval_s > 0:
            raise ValueError(f"fsync_interval_s must be positive, got {fsync_interval_s}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.fsync_interval_s = fsync_interval_s
        self.bytes = 0          # written by this writer
        self.chunks = 0
        self.syncs = 0
        self.sync_max_s = 0.0   # the longest wait for the disk
        self.appended = append and self._can_append()
        if self.appended:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        else:
            # A new inode, not a truncated one: a reader of the old file keeps its data.
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            self._write([MAGIC])
        self._dirty = False
        self._error: OSError | None = None
        self._closing = threading.Event()
        self._syncer: threading.Thread | None = None
        if fsync == "periodic":
            self._syncer = threading.Thread(target=self._sync_loop, name=f"fsync {self.path.name}", daemon=True)
            self._syncer.start()

    def _can_append(self) -> bool:
        """Whether the file holds a recording to go on with (False: start a new one)."""
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(MAGIC))
        except FileNotFoundError:
            return False
        if head == MAGIC:
            return True
        if MAGIC.startswith(head):  # empty, or killed while writing the magic: nothing recorded yet
            return False
        raise RecordingError(
            f"{self.path}: cannot append to it: it is not a version-{VERSION} streamer recording "
            f"(it starts with {head[:16]!r}); move it away or record to another path")

    def write(self, name: str, msg: Message, t_received: float) -> None:
        if self._error is not None:
            raise OSError(f"{self.path}: forcing the file to the disk failed ({self._error}); what was "
                          "written since the last success may be lost on a power cut") from self._error
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
        if len(hbytes) > MAX_HEADER_BYTES:
            raise RecordingError(f"{self.path}: header of {len(hbytes)} bytes for stream {name!r} "
                                 f"(at most {MAX_HEADER_BYTES}); send less metadata per message")
        body_len = sum(len(b) for b in bufs)
        lengths = struct.pack("<IQ", len(hbytes), body_len)
        hcrc = zlib.crc32(hbytes, zlib.crc32(lengths))
        bcrc = 0
        for b in bufs:
            bcrc = zlib.crc32(b, bcrc)
        self._write([SYNC + lengths + _CRC.pack(hcrc) + hbytes, *bufs, _CRC.pack(bcrc)])
        self.chunks += 1
        if self.fsync == "chunk":
            self._sync()
        else:
            self._dirty = True

    def _write(self, parts: list) -> None:
        """One writev of byte strings and byte views (a chunk reaches the kernel whole)."""
        n = os.writev(self.fd, parts)
        self.bytes += n
        total = sum(map(len, parts))
        if n < total:  # a short write (a signal, a full disk): the rest, however many calls it takes
            rest = memoryview(b"".join(parts))[n:]
            while rest:
                k = os.write(self.fd, rest)
                self.bytes += k
                rest = rest[k:]

    def _sync(self) -> None:
        t = time.perf_counter()
        os.fdatasync(self.fd)
        self.syncs += 1
        self.sync_max_s = max(self.sync_max_s, time.perf_counter() - t)

    def _sync_loop(self) -> None:
        while not self._closing.wait(self.fsync_interval_s):
            if self._dirty:
                self._dirty = False
                try:
                    self._sync()
                except OSError as exc:  # reported by the next write()
                    self._error = exc
                    return

    def close(self) -> None:
        if self.fd < 0:
            return
        self._closing.set()
        if self._syncer is not None:
            self._syncer.join()
        try:
            if self._dirty and self.fsync != "never":
                self._sync()
        finally:
            os.close(self.fd)
            self.fd = -1


@dataclass
class Chunk:
    name: str
    message: Message
    t_received: float
    offset: int
    end: int = 0            # the byte after the chunk


@dataclass
class Skipped:
    """Bytes of a recording that were not read as a chunk, and why."""

    offset: int
    end: int
    why: str

    def __str__(self) -> str:
        return f"bytes {self.offset}..{self.end} ({self.end - self.offset} bytes): {self.why}"


class _Bad(Exception):
    """A chunk that cannot be used. `resume`: where to look for the next sync marker, or,
    with `whole`, where the next chunk starts (the chunk's own lengths were verified)."""

    def __init__(self, why: str, resume: int, whole: bool = False) -> None:
        super().__init__(why)
        self.why, self.resume, self.whole = why, resume, whole


def report(path: Path, skipped: list[Skipped]) -> str:
    """One paragraph on what reading a recording skipped ('' if nothing)."""
    if not skipped:
        return ""
    lost = sum(s.end - s.offset for s in skipped)
    shown = "; ".join(str(s) for s in skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    return (f"{path}: skipped {len(skipped)} part(s), {lost} bytes in all, and read everything around them: "
            f"{shown}. Damaged bytes cannot be recovered (the rest of the file reads the same every time); "
            f"chunks that `read` leaves out of a stream are still yielded by `Reader`. A new run recording "
            f"to this path replaces the file: copy it first to keep it")


class Reader:
    """Iterates over the intact chunks of a recording. After iteration, `skipped` lists
    the byte ranges it could not read (offsets and why), `problem` says the same in one
    paragraph, and `torn` tells whether the file ends inside a chunk.

    Reading costs time linear in the file's size whatever the file holds: bytes are
    checked about once, and a file so damaged (or crafted) that checking would cost more
    than WORK_FACTOR times its size is read no further, with the rest reported."""

    WORK_FACTOR = 4

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.torn = False
        self.skipped: list[Skipped] = []
        with open(self.path, "rb") as f:
            head = f.read(len(MAGIC))
        if head == MAGIC:
            self.version = 2
        elif head == MAGIC_V1:
            self.version = 1
        elif head.startswith(MAGIC_PREFIX) and len(head) == len(MAGIC):
            raise RecordingError(f"{self.path}: a streamer recording of format version {head[len(MAGIC_PREFIX)]}, "
                                 f"newer than this reader (version {VERSION}); update streamer to read it")
        else:
            raise RecordingError(f"{self.path}: not a streamer recording (bad magic bytes); "
                                 "record with the `record` node")

    @property
    def problem(self) -> str:
        return report(self.path, self.skipped)

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    def chunks(self, headers_only: bool = False) -> Iterator[Chunk]:
        """The intact chunks in file order. With `headers_only`, only each chunk's stream
        name and type, from its header (its message has no data): for listing streams."""
        self.torn, self.skipped = False, []
        size = self.path.stat().st_size
        read_chunk = self._chunk_v2 if self.version == 2 else self._chunk_v1
        with open(self.path, "rb") as f:
            scan = _Scanner(f, SYNC if self.version == 2 else b"CHNK", size)
            self._size, self._budget = size, self.WORK_FACTOR * size + (1 << 26)
            offset = len(MAGIC)
            while offset < size:
                try:
                    chunk = read_chunk(f, offset, size, headers_only)
                except _Bad as bad:
                    end = bad.resume if bad.whole else scan.find(bad.resume)
                    self._budget -= scan.read
                    scan.read = 0
                    if self._budget < 0:
                        self._skip(offset, size, f"{bad.why}; then too much damage to look further (checking "
                                   f"would cost more than {self.WORK_FACTOR} times the file's size)", size)
                        return
                    self._skip(offset, end, bad.why, size)
                    offset = end
                    continue
                yield chunk
                offset = chunk.end

    def _skip(self, offset: int, end: int, why: str, size: int) -> None:
        self.skipped.append(Skipped(offset, end, why))
        self.torn = end >= size
        log.debug("%s: skipped bytes %d..%d: %s", self.path, offset, end, why)

    def _read(self, f: BinaryIO, n: int, body: bool = False) -> Any:
        """`n` bytes to check; a body goes into a fresh NumPy buffer, so that its arrays
        are aligned wherever their offset in the body is."""
        self._budget -= n
        if self._budget < 0:
            raise _Bad("too much damage to look further (checking would cost more than "
                       f"{self.WORK_FACTOR} times the file's size)", self._size, whole=True)
        if not body:
            return f.read(n)
        buf = np.empty(n, np.uint8)
        f.readinto(buf)
        return buf

    def _chunk_v2(self, f: BinaryIO, offset: int, size: int, headers_only: bool) -> Chunk:
        f.seek(offset)
        prefix = f.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise _Bad("the file ends inside a chunk (a write the writer did not finish)", offset + 1)
        tag, hlen, blen, hcrc = _PREFIX.unpack(prefix)
        if tag != SYNC:
            raise _Bad("no chunk starts here (bad sync marker)", offset + 1)
        body_at = offset + _PREFIX.size + hlen
        end = body_at + blen + _CRC.size
        if hlen > MAX_HEADER_BYTES:
            raise _Bad(f"the header length ({hlen} bytes) is larger than any header ({MAX_HEADER_BYTES})", offset + 1)
        if body_at > size:
            raise _Bad("the file ends inside a chunk header (a write the writer did not finish)", offset + 1)
        hbytes = self._read(f, hlen)
        if zlib.crc32(hbytes, zlib.crc32(prefix[8:20])) != hcrc:
            raise _Bad("the chunk header's checksum does not match (damaged)", offset + 1)
        # The lengths are now known good: a damaged body is skipped from the end of the
        # header on (the marker search there finds a chunk appended after a torn one).
        if end > size:
            raise _Bad("the file ends inside this chunk (a write the writer did not finish)", body_at)
        if headers_only:
            return _names(hbytes, offset, end)
        body = self._read(f, blen, body=True)
        (bcrc,) = _CRC.unpack(f.read(_CRC.size))
        if zlib.crc32(body) != bcrc:
            raise _Bad("the chunk body's checksum does not match (damaged)", body_at)
        return self._message(hbytes, body, blen, offset, end)

    def _chunk_v1(self, f: BinaryIO, offset: int, size: int, headers_only: bool) -> Chunk:
        f.seek(offset)
        prefix = f.read(_PREFIX_V1.size)
        if len(prefix) < _PREFIX_V1.size:
            raise _Bad("the file ends inside a chunk (a write the writer did not finish)", offset + 1)
        tag, hlen, blen = _PREFIX_V1.unpack(prefix)
        end = offset + _PREFIX_V1.size + hlen + blen + _CRC.size
        if tag != b"CHNK":
            raise _Bad("no chunk starts here (bad chunk tag)", offset + 1)
        if hlen > MAX_HEADER_BYTES:
            raise _Bad(f"the header length ({hlen} bytes) is larger than any header ({MAX_HEADER_BYTES})", offset + 1)
        if end > size:
            raise _Bad("the file ends inside this chunk (or its lengths are damaged)", offset + 1)
        hbytes = self._read(f, hlen)
        if headers_only:
            return _names(hbytes, offset, end)
        body = self._read(f, blen, body=True)
        (crc,) = _CRC.unpack(f.read(_CRC.size))
        if zlib.crc32(body, zlib.crc32(hbytes)) != crc:
            raise _Bad("the chunk's checksum does not match (damaged)", offset + 1)
        return self._message(hbytes, body, blen, offset, end)

    def _message(self, hbytes: bytes, body: np.ndarray, blen: int, offset: int, end: int) -> Chunk:
        """The chunk's message, checked; an intact chunk that fails is skipped whole."""
        try:
            name, msg, t_received = _decode(unpack(hbytes), body, blen)
            streams.validate(msg)
        except Exception as exc:  # noqa: BLE001 - whatever a crafted header provokes is reported
            raise _Bad(f"unusable chunk ({type(exc).__name__}: {str(exc)[:300]})", end, whole=True) from None
        return Chunk(name, msg, t_received, offset, end)


def _names(hbytes: bytes, offset: int, end: int) -> Chunk:
    """A chunk with its stream name and type only (data None), for listing the streams."""
    try:
        h = unpack(hbytes)
        name, stream = h["k"], h["s"]
        if not (isinstance(name, str) and name and stream in STREAM_TYPES):
            raise ValueError(f"bad stream name or type {str(name)[:80]!r}, {str(stream)[:80]!r}")
    except Exception as exc:  # noqa: BLE001
        raise _Bad(f"unusable chunk header ({type(exc).__name__}: {str(exc)[:300]})", end, whole=True) from None
    return Chunk(name, Message(stream, None), math.nan, offset, end)


class _Scanner:
    """Finds sync markers, reading each byte of the file about once however often asked."""

    def __init__(self, f: BinaryIO, sync: bytes, size: int) -> None:
        self.f, self.sync, self.size = f, sync, size
        self.at, self.block = 0, b""
        self.read = 0  # bytes read since last asked

    def find(self, start: int) -> int:
        """Offset of the next sync marker at or after `start`, or the file's size."""
        pos, n = start, len(self.sync)
        while pos < self.size:
            if not (self.at <= pos and pos + n <= self.at + len(self.block)):
                self.f.seek(pos)
                self.at, self.block = pos, self.f.read(min(_SCAN_BLOCK, self.size - pos))
                self.read += len(self.block)
            i = self.block.find(self.sync, pos - self.at)
            if i >= 0:
                return self.at + i
            if self.at + len(self.block) >= self.size:
                break
            pos = self.at + len(self.block) - n + 1
        return self.size


_NUMBERS = (int, float)  # as msgpack gives them (a bool is not one)


def _decode(h: Any, body: np.ndarray, blen: int) -> tuple[str, Message, float]:
    """(stream name, message, receive time) of a chunk header and body. Every declared
    size is checked against `blen` before an array is made; raises on anything wrong."""
    if not isinstance(h, dict):
        raise ValueError("the header is not a map")
    name, stream, meta, specs = h.get("k"), h.get("s"), h.get("m"), h.get("a")
    if not isinstance(name, str) or not name:
        raise ValueError(f"bad stream name {str(name)[:80]!r}")
    if stream not in STREAM_TYPES:
        raise ValueError(f"unknown stream type {str(stream)[:80]!r}")
    if not isinstance(meta, dict):
        raise ValueError("the metadata is not a map")
    q = h.get("q")
    if not (type(h.get("o")) in _NUMBERS and type(h.get("r")) in _NUMBERS and type(q) is int
            and -2**63 <= q < 2**63):
        raise ValueError("times or sequence number missing, not numbers or out of range")
    if not isinstance(specs, list) or len(specs) > MAX_ARRAYS:
        raise ValueError("the array list is missing or too long")
    layout = []
    total = 0
    for spec in specs:
        if not (type(spec) is list and len(spec) == 3 and type(spec[0]) is str and type(spec[2]) is list):
            raise ValueError(f"bad array description {str(spec)[:200]}")
        arr_name, descr, shape = spec
        if len(shape) > MAX_DIMS or not all(type(n) is int and 0 <= n <= MAX_ITEMS for n in shape) \
                or (count := math.prod(shape)) > MAX_ITEMS:
            raise ValueError(f"array {arr_name!r} declares shape {str(shape)[:100]}: not whole numbers, "
                             f"negative, or more than {MAX_DIMS} dimensions or {MAX_ITEMS} elements")
        dtype = descr_dtype(descr)
        if dtype.itemsize == 0:
            raise ValueError(f"array {arr_name!r}: dtype {dtype} has no size")
        total += count * dtype.itemsize
        layout.append((arr_name, dtype, shape, count))
    if total != blen:
        raise ValueError(f"the arrays declare {total} bytes, the chunk body holds {blen}")
    arrays: dict[str, np.ndarray] = {}
    pos = 0
    for arr_name, dtype, shape, count in layout:
        arr = np.frombuffer(body, dtype, count, pos) if count else np.zeros(count, dtype)
        if pos % ALIGN:
            arr = arr.copy()  # aligned, like the arrays the transport hands over
        arrays[arr_name] = arr.reshape(shape)
        pos += count * dtype.itemsize
    if stream in ITEM_STREAMS:
        if "d" not in h:
            raise ValueError(f"{stream} chunk without its item")
        data = h["d"]
    else:
        if DATA not in arrays:
            raise ValueError(f"{stream} chunk without its data array")
        data = arrays.pop(DATA)
    _rename_old_keys(stream, meta, data)
    return name, Message(stream, data, meta, float(h["o"]), arrays, h["q"]), float(h["r"])


# Keys that gained their unit in the name; recordings made before keep the old ones.
_OLD_KEYS = {SAMPLES: ("t_first", "t_first_s"), MARKER: ("time", "time_s")}


def _rename_old_keys(stream: str, meta: dict, data: Any) -> None:
    if stream not in _OLD_KEYS:
        return
    old, new = _OLD_KEYS[stream]
    where = data if stream == MARKER else meta
    if isinstance(where, dict) and old in where and new not in where:
        where[new] = where.pop(old)


def streams_of(path: str | Path) -> dict[str, str]:
    """Stream name -> stream type (of its first intact chunk), read from the chunk
    headers only."""
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

    @property
    def missing(self) -> int:
        """Messages absent from the file between its first and last one of this stream,
        from the gaps in their sequence numbers (lost on the way, or by a killed recorder)."""
        steps = np.diff(self.seq)
        return int(np.sum(steps[steps > 1] - 1))


class Recording(dict):
    """Recorded streams by name (`Recorded`), with what reading skipped: damaged bytes,
    and chunks that do not fit the stream they name (another stream type or shape than
    its first chunk)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.skipped: list[Skipped] = []

    @property
    def problem(self) -> str:
        return report(self.path, self.skipped)


def read(path: str | Path, keep_messages: bool = False) -> Recording:
    """Every stream of a recording, its payload concatenated, with its metadata.

    Never raises on damaged or crafted content (only on a file that is not a recording):
    what it cannot use is listed in `.skipped` (offsets and why) and logged."""
    reader = Reader(path)
    parts: dict[str, list[Chunk]] = {}
    kinds: dict[str, tuple] = {}
    out = Recording(reader.path)
    for chunk in reader:
        kind = _kind(chunk.message)
        first = kinds.setdefault(chunk.name, kind)
        if kind != first:
            out.skipped.append(Skipped(chunk.offset, chunk.end, f"stream {chunk.name!r} is {_describe(first)}; "
                                       f"this chunk is {_describe(kind)}: left out of `read` (`Reader` yields it)"))
            continue
        parts.setdefault(chunk.name, []).append(chunk)
    out.skipped = sorted(reader.skipped + out.skipped, key=lambda s: s.offset)
    if out.skipped:
        log.warning("%s", out.problem)
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


def _kind(msg: Message) -> tuple:
    """What chunks of one stream must share to be concatenated."""
    if msg.stream == SAMPLES:
        return (SAMPLES, msg.data.shape[0])
    if msg.stream in ARRAY_STREAMS:
        return (msg.stream, msg.data.dtype.str, msg.data.shape[1:])
    return (msg.stream,)


def _describe(kind: tuple) -> str:
    if kind[0] == SAMPLES:
        return f"Samples of {kind[1]} channels"
    if len(kind) == 3:
        return f"{kind[0]} of {kind[1]} items shaped {list(kind[2])}"
    return kind[0]


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
    return msg.meta.get("t_first_s", 0.0) + np.arange(n) / float(msg.meta.get("sfreq", 1.0))
