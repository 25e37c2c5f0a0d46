"""A minimal OSC 1.0 message encoder (opensoundcontrol.org, "OSC 1.0 specification").

A message is an OSC-string address, an OSC-string of type tags starting with ',', then
the arguments, all big-endian and padded to multiples of 4 bytes. Tags written here:
i (int32), h (int64, for ints beyond int32), f (float32) or d (float64), s (string),
b (blob), and T/F (true/false, no data).
"""
from __future__ import annotations

import struct
from typing import Any, Iterable

import numpy as np


def osc_string(s: str) -> bytes:
    """ASCII bytes, a NUL, then NULs up to a multiple of 4."""
    b = s.encode("utf-8")
    if b"\0" in b:
        raise ValueError(f"OSC strings may not contain NUL: {s!r}")
    return b + b"\0" * (4 - len(b) % 4)


def osc_blob(b: bytes) -> bytes:
    return struct.pack(">i", len(b)) + b + b"\0" * (-len(b) % 4)


def _flatten(args: Any) -> Iterable[Any]:
    if args is None:
        return []
    if isinstance(args, np.ndarray):
        return args.ravel().tolist()
    if isinstance(args, (list, tuple)):
        out: list[Any] = []
        for a in args:
            out.extend(_flatten(a) if isinstance(a, (list, tuple, np.ndarray)) else [a])
        return out
    return [args]


def encode_message(address: str, args: Any = None, double: bool = False) -> bytes:
    """One OSC message. `args` is a value or a (nested) list of values; None sends none."""
    if not address.startswith("/"):
        raise ValueError(f"OSC address must start with '/': {address!r}")
    tags, data = [","], []
    for a in _flatten(args):
        if isinstance(a, np.generic):
            a = a.item()
        if isinstance(a, bool):
            tags.append("T" if a else "F")
        elif isinstance(a, int):
            if -2**31 <= a < 2**31:
                tags.append("i")
                data.append(struct.pack(">i", a))
            else:
                tags.append("h")
                data.append(struct.pack(">q", a))
        elif isinstance(a, float):
            tags.append("d" if double else "f")
            data.append(struct.pack(">d" if double else ">f", a))
        elif isinstance(a, str):
            tags.append("s")
            data.append(osc_string(a))
        elif isinstance(a, (bytes, bytearray)):
            tags.append("b")
            data.append(osc_blob(bytes(a)))
        else:
            raise TypeError(f"cannot send {type(a).__name__} {a!r} as an OSC argument")
    return osc_string(address) + osc_string("".join(tags)) + b"".join(data)
