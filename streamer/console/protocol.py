"""The binary frames the console sends to the page over its WebSocket.

    u8 kind | u8 0 | u16 view | u32 n: header length | header (UTF-8 JSON object, small:
    names, scales, counts) | zero padding to a multiple of 8 | payload (the raw array bytes,
    little-endian, dtype and shape named in the header)

Arrays never travel as JSON: the page reads the payload as a typed array in place.
"""
from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

SAMPLES, EVENTS, IMAGE, SPIKES, DECISION, ITEMS = 1, 2, 3, 4, 5, 6
KIND_NAMES = {SAMPLES: "samples", EVENTS: "events", IMAGE: "image", SPIKES: "spikes",
              DECISION: "decision", ITEMS: "items"}
_HEAD = struct.Struct("<BBHI")


def frame(kind: int, view: int, header: dict[str, Any], payload: np.ndarray | None = None) -> bytes:
    """One binary frame; the payload's dtype and shape are added to the header."""
    if payload is not None:
        payload = np.ascontiguousarray(payload)
        header = {**header, "dtype": payload.dtype.str.lstrip("<|="), "shape": list(payload.shape)}
    head = json.dumps(header, separators=(",", ":"), default=str).encode()
    start = _HEAD.size + len(head)
    pad = (-start) % 8
    parts = [_HEAD.pack(kind, 0, view, len(head)), head, b"\0" * pad]
    if payload is not None:
        parts.append(payload.tobytes())
    return b"".join(parts)


def parse(buf: bytes) -> tuple[int, int, dict, memoryview]:
    """The reverse of `frame` (for tests): kind, view, header, payload bytes."""
    kind, _, view, n = _HEAD.unpack_from(buf)
    header = json.loads(buf[_HEAD.size:_HEAD.size + n])
    start = _HEAD.size + n
    start += (-start) % 8
    return kind, view, header, memoryview(buf)[start:]
