"""The packet framing of an AEDAT4 file, walked without decoding: where each packet starts.

After the magic line, an int32 header size and the header (whose XML names each stream
and its type: EVTS for events), the file is a run of packets, each an int32 stream id, an
int32 size and that many bytes, then the file data table. dv-processing does not say
where it stopped; this walk turns "event packet k" into a byte offset, and finds where a
truncated file is cut. It reads 8 bytes per packet, and only when something went wrong.
"""
from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

_MAGIC_BYTES = 14  # "#!AER-DAT4.0\r\n"
_STREAM = re.compile(rb'<node name="(\d+)"[^>]*>(?:(?!<node name=).)*?typeIdentifier"[^>]*>(\w+)<', re.S)


@dataclass
class Packets:
    """Offsets of the packets of each stream id, and where the walk stopped."""

    header_end: int
    file_size: int
    types: dict[int, str] = field(default_factory=dict)  # stream id -> type (EVTS, TRIG, IMUS...)
    offsets: dict[int, list[int]] = field(default_factory=dict)
    end: int = 0                 # first byte that is not a whole packet
    cut: tuple[int, int] | None = None  # (declared size, bytes present) of a packet cut by the end

    def of_type(self, kind: str) -> list[int]:
        return [o for sid, t in self.types.items() if t == kind for o in self.offsets.get(sid, [])]


def walk(path: str | Path) -> Packets:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(_MAGIC_BYTES)
        head = f.read(4)
        header_size = struct.unpack("<i", head)[0] if len(head) == 4 else -1
        if header_size < 0 or _MAGIC_BYTES + 4 + header_size > size:
            return Packets(0, size, end=_MAGIC_BYTES)
        header = f.read(header_size)
        pk = Packets(_MAGIC_BYTES + 4 + header_size, size)
        pk.types = {int(sid): kind.decode() for sid, kind in _STREAM.findall(header)}
        off = pk.header_end
        while off + 8 <= size:
            f.seek(off)
            sid, length = struct.unpack("<ii", f.read(8))
            if sid not in pk.types or length <= 0:
                break  # the data table, or a damaged packet header
            if off + 8 + length > size:
                pk.cut = (length, size - off - 8)
                break
            pk.offsets.setdefault(sid, []).append(off)
            off += 8 + length
        pk.end = off
    return pk


def describe_cut(pk: Packets) -> str | None:
    """A sentence on where a truncated file ends, or None if no packet is cut."""
    if pk.cut is None:
        return None
    whole = sum(len(v) for v in pk.offsets.values())
    return (f"the file ends inside a packet at byte {pk.end} ({pk.cut[1]} of its {pk.cut[0]} bytes "
            f"are there) after {whole} whole packet(s): the recording is truncated")
