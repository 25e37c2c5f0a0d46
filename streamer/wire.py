"""Wire format: one ZeroMQ multipart message per chunk, never pickle.

    frame 0   topic: the edge key, b"src.port>dst.port"
    frame 1   header: msgpack map
              v  format version          s  stream type
              q  sequence number (per edge, consecutive)
              e  sender epoch (changes when the sender restarts)
              o  t_origin (host monotonic s)
              m  metadata                      a   [[name, dtype descr, shape], ...]
              d  the item of an item stream (Decision, Marker, Command)
              x  true for the end-of-stream mark (no data)
    frames 2+ the raw buffers of the arrays in `a`, in order, sent and received without copies

Array dtypes travel as NumPy's descr (strings and lists of strings), never as objects;
object dtypes are refused on both sides. Declared shapes are checked against the buffers
(and against fixed bounds) before anything is allocated. Anything that does not parse is
a WireError; `decode` raises nothing else.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import msgpack
import numpy as np
import zmq

from .streams import ARRAY_STREAMS, ITEM_STREAMS, MAX_DIMS, MAX_ITEMS, STREAM_TYPES, Message

VERSION = 1
MAX_HEADER_BYTES = 1 << 20
DATA = ""  # array name of a message's main payload


class WireError(ValueError):
    """A message that cannot be decoded: it is rejected and counted, never processed."""


def _default(obj: Any) -> Any:
    # NumPy scalars and small arrays in metadata become plain msgpack values.
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("object arrays cannot be sent")
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot send a value of type {type(obj).__name__} in a message header; "
                    "use numbers, strings, lists, dicts or NumPy arrays")


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_default, use_bin_type=True)


def unpack(buf: Any) -> Any:
    return msgpack.unpackb(buf, raw=False, strict_map_key=False)


_DESCR_OF: dict[np.dtype, Any] = {}
_DTYPE_OF: dict[str, np.dtype] = {}
_CACHE_MAX = 256  # streams use few dtypes; the bound keeps garbage from growing the caches


def dtype_descr(dtype: np.dtype) -> Any:
    descr = _DESCR_OF.get(dtype)
    if descr is None:
        if dtype.hasobject:
            raise TypeError(f"dtype {dtype} holds Python objects and cannot be sent")
        descr = np.lib.format.dtype_to_descr(dtype)
        if len(_DESCR_OF) < _CACHE_MAX:
            _DESCR_OF[dtype] = descr
    return descr


def descr_dtype(descr: Any) -> np.dtype:
    """Rebuild a dtype from its descr without evaluating anything (cached: parsing a
    descr costs more than the rest of decoding)."""
    key = descr if isinstance(descr, str) else repr(descr)
    dtype = _DTYPE_OF.get(key)
    if dtype is None:
        dtype = _parse_descr(descr)
        if len(_DTYPE_OF) < _CACHE_MAX:
            _DTYPE_OF[key] = dtype
    return dtype


def _parse_descr(descr: Any) -> np.dtype:
    try:
        dtype = np.lib.format.descr_to_dtype(_descr_tuples(descr))
    except Exception as exc:  # noqa: BLE001 - any malformed descr is a wire error
        raise WireError(f"bad dtype {descr!r}: {exc}") from None
    if dtype.hasobject:
        raise WireError(f"dtype {descr!r} holds Python objects; refused")
    return dtype


def _descr_tuples(descr: Any) -> Any:
    # msgpack turns the tuples of a structured descr into lists; NumPy wants tuples back.
    if isinstance(descr, str):
        return descr
    if not isinstance(descr, list):
        raise TypeError("a dtype descr is a string or a list of fields")
    fields = []
    for f in descr:
        if not isinstance(f, list) or len(f) not in (2, 3):
            raise TypeError(f"bad field {f!r}")
        name = tuple(f[0]) if isinstance(f[0], list) else f[0]
        field = (name, _descr_tuples(f[1]))
        if len(f) == 3:
            field += (tuple(f[2]),)
        fields.append(field)
    return fields


ALIGN = 8  # bytes: the widest scalar of any stream (int64 times, float64 samples)
# Buffers up to this size are copied out of their frame: a bytes object costs less to
# make than a view of the frame (and CPython keeps its data 16-byte aligned), and small
# arrays are copied in a fraction of a microsecond. Larger ones are views: no copy.
COPY_BELOW = 1 << 14
# Whether this interpreter keeps bytes data aligned (CPython: at 32 bytes into an object
# its allocators align to 16); if not, copied buffers are checked like views.
BYTES_ALIGNED = all(np.frombuffer(bytes(n), np.uint8).ctypes.data % ALIGN == 0 for n in (8, 600, 70000))


def encode(msg: Message, seq: int, epoch: int, topic: bytes, packer: Any = None) -> list:
    """Frames for one message. Array buffers are passed through, not copied. `packer`, a
    `msgpack.Packer` of one thread (an outbox's), saves making one per message."""
    header: dict[str, Any] = {"v": VERSION, "s": msg.stream, "q": seq, "e": epoch,
                              "o": msg.t_origin, "m": msg.meta}
    descr = []
    buffers = []
    if msg.stream in ITEM_STREAMS:
        header["d"] = msg.data
    else:
        _add_array(DATA, msg.data, descr, buffers)
    if msg.arrays:
        for name, arr in msg.arrays.items():
            _add_array(name, arr, descr, buffers)
    header["a"] = descr
    return [topic, packer.pack(header) if packer is not None else pack(header), *buffers]


def _add_array(name: str, arr: Any, descr: list, buffers: list) -> None:
    arr = np.ascontiguousarray(arr)
    descr.append([name, dtype_descr(arr.dtype), list(arr.shape)])
    buffers.append(arr.data if arr.size else b"")


def packer() -> Any:
    """A msgpack packer for `encode`, for one thread (it is not thread-safe)."""
    return msgpack.Packer(default=_default, use_bin_type=True)


def end_of_stream(seq: int, epoch: int, topic: bytes) -> list:
    return [topic, pack({"v": VERSION, "x": True, "q": seq, "e": epoch})]


def _buffer(frame: Any) -> memoryview:
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return memoryview(frame)
    return frame.buffer  # zmq.Frame received with copy=False


def _small(frame: Any) -> bytes:
    """The bytes of a small frame (a topic, a header): copied, cheaper than a view."""
    if type(frame) is bytes:
        return frame
    if isinstance(frame, zmq.Frame):
        return frame.bytes
    return bytes(frame)


def _nbytes(frame: Any) -> int:
    if type(frame) is bytes or isinstance(frame, zmq.Frame):
        return len(frame)
    return _buffer(frame).nbytes


def decode(frames: Sequence[Any]) -> tuple[str, dict, Message | None]:
    """(topic, header, message) from received frames; message is None for end of stream.

    Raises WireError for anything malformed: wrong frame count, bad header, unknown stream
    type, dtype or size that does not match the buffer, and for nothing else.
    """
    try:
        return _decode(frames)
    except WireError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a crafted message provokes is a wire error
        raise WireError(f"undecodable message ({type(exc).__name__}: {exc})") from None


def _decode(frames: Sequence[Any]) -> tuple[str, dict, Message | None]:
    if len(frames) < 2:
        raise WireError(f"expected at least 2 frames (topic, header), got {len(frames)}")
    try:
        topic = _small(frames[0]).decode()
    except UnicodeDecodeError:
        raise WireError("topic is not UTF-8") from None
    hsize = _nbytes(frames[1])
    if hsize > MAX_HEADER_BYTES:
        raise WireError(f"header of {hsize} bytes is larger than {MAX_HEADER_BYTES}")
    try:
        header = unpack(_small(frames[1]))
    except Exception as exc:  # noqa: BLE001 - msgpack raises several types
        raise WireError(f"header is not msgpack: {exc}") from None
    if not isinstance(header, dict) or header.get("v") != VERSION:
        raise WireError(f"header is not a version-{VERSION} map")
    seq, epoch = header.get("q"), header.get("e")
    if not isinstance(seq, int) or not isinstance(epoch, int):
        raise WireError("header lacks integer sequence number and epoch")
    if header.get("x"):
        if len(frames) != 2:
            raise WireError("end-of-stream mark with data frames")
        return topic, header, None
    stream = header.get("s")
    if stream not in STREAM_TYPES:
        raise WireError(f"unknown stream type {stream!r}")
    meta = header.get("m", {})
    descr = header.get("a", [])
    if not isinstance(meta, dict) or not isinstance(descr, list):
        raise WireError("metadata must be a map and arrays a list")
    if len(descr) != len(frames) - 2:
        raise WireError(f"header announces {len(descr)} buffers, message has {len(frames) - 2}")
    arrays: dict[str, np.ndarray] = {}
    for i, spec in enumerate(descr):
        name, arr = _array(spec, frames[i + 2])
        arrays[name] = arr
    if stream in ARRAY_STREAMS:
        if DATA not in arrays:
            raise WireError(f"{stream} message without its data array")
        data = arrays.pop(DATA)
    else:
        if "d" not in header:
            raise WireError(f"{stream} message without its item")
        data = header["d"]
    t_origin = header.get("o", math.nan)
    if not isinstance(t_origin, (int, float)):
        raise WireError("t_origin is not a number")
    return topic, header, Message(stream, data, meta, float(t_origin), arrays, seq)


def _array(spec: Any, frame: Any) -> tuple[str, np.ndarray]:
    """One array of a message: its description checked against bounds and its buffer."""
    if not (type(spec) is list and len(spec) == 3 and type(spec[0]) is str
            and type(spec[2]) is list and len(spec[2]) <= MAX_DIMS):
        raise WireError(f"bad array description {str(spec)[:200]}")
    name, dt, shape = spec
    count = 1
    for n in shape:
        if not (isinstance(n, int) and 0 <= n <= MAX_ITEMS):
            raise WireError(f"bad array description {str(spec)[:200]}")
        count *= n
    dtype = descr_dtype(dt)
    if dtype.itemsize == 0:
        raise WireError(f"array {name!r}: dtype {dtype} has no size")
    if count > MAX_ITEMS:
        raise WireError(f"array {name!r}: shape {shape} declares more than {MAX_ITEMS} elements")
    expected = count * dtype.itemsize
    nbytes = _nbytes(frame)
    if nbytes != expected:
        raise WireError(f"array {name!r}: {nbytes} bytes for shape {shape} of {dtype} "
                        f"({expected} expected)")
    if not expected:
        arr = np.zeros(shape, dtype)
    elif expected <= COPY_BELOW:
        # Copied into a bytes object: read-only, and aligned (ZeroMQ hands small messages
        # out as slices of one receive buffer, at any offset; Numba compiles unaligned
        # arrays apart, and would compile again on live data).
        data = _small(frame)
        arr = np.frombuffer(data, dtype=dtype)
        if (type(data) is not bytes or not BYTES_ALIGNED) and arr.ctypes.data % ALIGN:
            arr = arr.copy()
    else:
        arr = np.frombuffer(_buffer(frame), dtype=dtype)
        if arr.ctypes.data % ALIGN:
            arr = arr.copy()
    if len(shape) != 1:
        arr = arr.reshape(shape)
    if arr.flags.writeable:
        arr.setflags(write=False)  # a view of the socket buffer: read-only for every node
    return name, arr
