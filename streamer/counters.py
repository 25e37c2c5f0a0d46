"""Edge counters kept in a small file per node, so that they outlive the process.

A node killed with SIGKILL cannot report its last figures; its counters file can. The
supervisor reads it for exact loss figures, and the node's next incarnation opens the
same file and continues: a restarted sender goes on numbering where the dead one stopped
(the receiver sees what the dead one never delivered as a gap), and a restarted receiver
knows which sequence number comes next (what died in its queues shows as lost, nothing
it had received is counted again).

Without a path (a node driven in a test) the counters live in memory.
"""
from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

# Slots of one outgoing edge. SEQ is the number of messages put on the wire (the next
# sequence number); what the node emitted but did not put on the wire is DROPPED.
OUT_FIELDS = ("seq", "dropped", "ended")
SEQ, DROPPED, OUT_ENDED = range(len(OUT_FIELDS))
# Slots of one incoming edge. NEXT_SEQ = RECEIVED + LOST + REJECTED: every number up to
# it either arrived (and was taken, or refused for its content) or never did.
IN_FIELDS = ("next_seq", "received", "lost", "superseded", "rejected", "ended")
NEXT_SEQ, RECEIVED, LOST, SUPERSEDED, IN_REJECTED, IN_ENDED = range(len(IN_FIELDS))

SLOT_BYTES = 8


def layout(in_keys: list[str], out_keys: list[str]) -> dict[tuple[str, str], int]:
    """(direction, edge key) -> index of the first slot, in the order of the node's spec."""
    out: dict[tuple[str, str], int] = {}
    i = 0
    for key in in_keys:
        out[("in", key)] = i
        i += len(IN_FIELDS)
    for key in out_keys:
        out[("out", key)] = i
        i += len(OUT_FIELDS)
    return out


def slot_count(in_keys: list[str], out_keys: list[str]) -> int:
    return len(in_keys) * len(IN_FIELDS) + len(out_keys) * len(OUT_FIELDS)


class Slots:
    """int64 slots, in a file shared with the supervisor (and the node's successor), or
    in memory."""

    def __init__(self, n: int, path: str | Path | None = None) -> None:
        self.n = n
        self._mmap: mmap.mmap | None = None
        if path is None or n == 0:
            self.values = (ctypes.c_int64 * max(n, 1))()
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = n * SLOT_BYTES
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._mmap = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.values = (ctypes.c_int64 * n).from_buffer(self._mmap)

    def view(self, start: int, count: int) -> "SlotView":
        return SlotView(self.values, start, count)

    def close(self) -> None:
        if self._mmap is not None:
            del self.values  # the ctypes view holds the buffer: release it before closing
            self._mmap.close()
            self._mmap = None


class SlotView:
    """The slots of one edge: `view[i]` reads and writes slot start + i."""

    __slots__ = ("_values", "_start", "_count")

    def __init__(self, values: ctypes.Array, start: int, count: int) -> None:
        self._values, self._start, self._count = values, start, count

    def __getitem__(self, i: int) -> int:
        return self._values[self._start + i]

    def __setitem__(self, i: int, v: int) -> None:
        self._values[self._start + i] = v

    def add(self, i: int, n: int = 1) -> None:
        self._values[self._start + i] += n

    def as_dict(self, fields: tuple[str, ...]) -> dict[str, int]:
        return {f: int(self._values[self._start + i]) for i, f in enumerate(fields)}


def read(path: str | Path, in_keys: list[str], out_keys: list[str]) -> dict[str, dict]:
    """The counters a node left in its file: {"edges_in": {key: {...}}, "edges_out": {...}}
    (zeros for a file that does not exist yet)."""
    n = slot_count(in_keys, out_keys)
    raw = b""
    try:
        with open(path, "rb") as f:
            raw = f.read(n * SLOT_BYTES)
    except OSError:
        pass
    raw = raw.ljust(n * SLOT_BYTES, b"\0")
    values = (ctypes.c_int64 * max(n, 1)).from_buffer_copy(raw.ljust(max(n, 1) * SLOT_BYTES, b"\0"))
    where = layout(in_keys, out_keys)
    return {"edges_in": {k: SlotView(values, where[("in", k)], len(IN_FIELDS)).as_dict(IN_FIELDS)
                         for k in in_keys},
            "edges_out": {k: SlotView(values, where[("out", k)], len(OUT_FIELDS)).as_dict(OUT_FIELDS)
                          for k in out_keys}}
