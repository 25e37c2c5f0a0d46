"""The N-MNIST binary format (Orchard et al., 2015): 5 bytes per event.

byte 0: x, byte 1: y, byte 2 bit 7: polarity, bits 22..0 over bytes 2-4: timestamp (µs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from streamer.streams import EVENT_DTYPE

WIDTH = HEIGHT = 34


def decode_nmnist(buf: bytes | np.ndarray) -> np.ndarray:
    raw = np.frombuffer(buf, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"N-MNIST data must be a multiple of 5 bytes, got {raw.size}")
    raw = raw.reshape(-1, 5).astype(np.int64)
    ev = np.empty(len(raw), dtype=EVENT_DTYPE)
    ev["x"] = raw[:, 0]
    ev["y"] = raw[:, 1]
    ev["p"] = raw[:, 2] >> 7
    ev["t"] = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    return ev


def read_nmnist(path: str | Path) -> np.ndarray:
    """Events of one N-MNIST sample (34 x 34)."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return decode_nmnist(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} (truncated or not an N-MNIST .bin file)") from None
