"""What goes on the wire to SpiNNaker: EIEIO spike packets and SPIF event words.

EIEIO data message, 32-bit keys, no prefix/payload (spinnman's EIEIOType.KEY_32_BIT):
byte 0 = key count, byte 1 = type << 2 (= 0x08) | tag, then the keys little-endian.
An SDP payload is 256 bytes, so at most 63 keys go in one packet.
SPIF takes DVS events as 32-bit little-endian words: x in bits 30:16, polarity in bit 15,
y in bits 14:0 (bit 31 clear).
"""
from __future__ import annotations

import numpy as np
from numba import njit

KEY_32_BIT = 2
MAX_KEYS = 63


@njit(cache=True, nogil=True)
def frame_keys(frame: np.ndarray, keymap: np.ndarray) -> np.ndarray:
    """Keys of one step's input: keymap[flat index], repeated by the count in the bin."""
    flat = frame.reshape(-1)
    n = 0
    for i in range(flat.size):
        if flat[i] > 0:
            n += int(flat[i])
    keys = np.empty(n, np.uint32)
    k = 0
    for i in range(flat.size):
        c = int(flat[i]) if flat[i] > 0 else 0
        for _ in range(c):
            keys[k] = keymap[i]
            k += 1
    return keys


def eieio_packets(keys: np.ndarray, tag: int = 0) -> list[bytes]:
    """32-bit-key EIEIO data messages carrying `keys`, 63 per packet."""
    keys = np.asarray(keys, "<u4")
    out = []
    for a in range(0, len(keys), MAX_KEYS):
        chunk = keys[a:a + MAX_KEYS]
        out.append(bytes((len(chunk), (KEY_32_BIT << 2) | (tag & 3))) + chunk.tobytes())
    return out


@njit(cache=True, nogil=True)
def _spif_words(x: np.ndarray, y: np.ndarray, p: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = ((np.uint32(x[i]) & 0x7FFF) << 16) | ((np.uint32(p[i] > 0)) << 15) | (np.uint32(y[i]) & 0x7FFF)


def spif_words(events: np.ndarray) -> np.ndarray:
    """SPIF's 32-bit words of a structured event array (fields x, y, p)."""
    out = np.empty(len(events), "<u4")
    _spif_words(np.ascontiguousarray(events["x"]), np.ascontiguousarray(events["y"]),
                np.ascontiguousarray(events["p"]), out)
    return out
