"""Readers of event files, chosen by content: Prophesee RAW (EVT 2.0, 2.1, 3.0), DAT,
AEDAT4 (through dv-processing) and N-MNIST .bin.

Every reader streams: `chunks(max_events)` reads the file block by block, and the decoders
carry their state from one block to the next, so a file of any size is never loaded whole.
EVT 3.0 can also be decoded by two threads: each block is cut at a word from which the
decoder's state is rebuilt (a TIME_HIGH followed by TIME_LOW, y and vector base words), the
second half decoded at the same time as the first, then its times moved by the wraps of
the 24-bit time base the first half held.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from streamer.recycle import Recycler
from streamer.streams import EVENT_DTYPE

from . import dat, evt2, evt3, evt21
from .dv_arrays import TRIGGER_DTYPE, empty_triggers  # noqa: F401 - part of the readers' interface
from .errors import EventFileError
from .header import Header, _int, read_header, resolve_raw

AEDAT4_MAGIC = b"#!AER-DAT4"
BLOCK_BYTES = 1 << 20  # small enough to stay in cache between the read and the decoding
TRIGGER_BUFFER = 4096


def join(parts: list[np.ndarray], dtype: np.dtype, buffers: Recycler | None = None) -> np.ndarray:
    """Concatenate keeping the exact (padded) dtype, which np.concatenate does not; into
    an array from `buffers` when given.

    Records are copied as opaque bytes: numpy copies a padded record dtype field by
    field, some 40 times slower than memcpy."""
    n = sum(len(p) for p in parts)
    out = np.empty(n, dtype) if buffers is None or not n else buffers.get(n, dtype)
    raw = np.dtype((np.void, dtype.itemsize))
    flat = out.view(raw)
    i = 0
    for p in parts:
        flat[i:i + len(p)] = p.view(raw)
        i += len(p)
    return out


class EventReader:
    """Common interface: `width`, `height`, `format`, `chunks()`, `triggers()`."""

    format: str = ""
    width: int = 0
    height: int = 0

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.dropped = 0  # events off the sensor, not returned
        # event buffers used again once the chunks cut from them are dropped (a block of
        # small chunks holds several at once)
        self.buffers = Recycler(keep=4, keep_bytes=1 << 26)

    def chunks(self, max_events: int = 1 << 16, duration_us: int | None = None) -> Iterator[np.ndarray]:
        """Events block by block: at most `max_events` each, or, with `duration_us`, one
        array per window of that much device time (empty windows are skipped)."""
        if duration_us is None:
            for ev, _ in self.chunks_and_triggers(max_events):
                if len(ev):
                    yield ev
            return
        if duration_us <= 0:
            raise ValueError(f"duration_us must be positive, got {duration_us}")
        pending: list[np.ndarray] = []
        end = None
        for ev, _ in self.chunks_and_triggers(max_events):
            while len(ev):
                if end is None:
                    end = int(ev["t"][0]) + duration_us
                k = int(np.searchsorted(ev["t"], end, "left"))
                if k == len(ev):
                    pending.append(ev)
                    break
                if k or pending:
                    pending.append(ev[:k])
                    # a window inside one decoded block is a view of it, not a copy
                    yield join(pending, EVENT_DTYPE) if len(pending) > 1 else pending[0]
                    pending = []
                ev = ev[k:]
                # the next window starts at the window holding the next event
                end += -(-(int(ev["t"][0]) - end + 1) // duration_us) * duration_us
        if pending:
            yield join(pending, EVENT_DTYPE) if len(pending) > 1 else pending[0]

    def chunks_and_triggers(self, max_events: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def read(self) -> np.ndarray:
        return join(list(self.chunks(1 << 20)), EVENT_DTYPE)

    def close(self) -> None:
        """Frees what the reader holds between reads (the AEDAT4 reader's helper process)."""

    def triggers(self) -> np.ndarray:
        return join([tr for _, tr in self.chunks_and_triggers(1 << 20) if len(tr)], TRIGGER_DTYPE)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {self.width}x{self.height} {self.path}>"


class WordReader(EventReader):
    """RAW and DAT: fixed-size words after a `%` header, decoded by a Numba kernel."""

    word_dtype: np.dtype
    word_bytes: int
    group: int = 1  # words that belong together (a DAT event is two uint32)
    threads: int = 1  # 2: formats that can be cut (EVT 3.0) decode two halves of a block at once
    splittable: bool = False

    def __init__(self, path: str | Path, header: Header) -> None:
        super().__init__(path)
        self.header = header
        self.data_offset = header.data_offset
        self.size = os.path.getsize(self.path)

    def _decode(self, words, state, ev, tr):
        raise NotImplementedError

    def _new_state(self) -> np.ndarray:
        raise NotImplementedError

    def _split(self, words: np.ndarray) -> int:
        """Where a second thread can start decoding this block (-1: nowhere)."""
        return -1

    def _second_half(self, words: np.ndarray, p: int, state: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _join_halves(self, state: np.ndarray, second: np.ndarray, guess: np.ndarray, words: np.ndarray,
                     p: int, later: list[tuple[np.ndarray, np.ndarray]]) -> int:
        raise NotImplementedError

    def _words(self, block_bytes: int) -> Iterator[np.ndarray]:
        """The file's words block by block, in one buffer refilled in place (the bytes of a
        word cut by the end of a block move to its start)."""
        unit = self.word_bytes * self.group
        buf = np.empty(block_bytes + unit, np.uint8)
        view = memoryview(buf)
        rest = 0
        offset = self.data_offset
        with open(self.path, "rb", buffering=0) as f:
            f.seek(offset)
            while True:
                got = f.readinto(view[rest:rest + block_bytes])
                if not got:
                    break
                size = rest + got
                usable = size - size % unit
                yield buf[:usable].view(self.word_dtype)
                rest = size - usable
                buf[:rest] = buf[usable:size]
                offset += usable
        if rest:
            raise EventFileError(self.path, offset, f"file ends inside a {unit}-byte word "
                                 f"({rest} byte(s) left over)",
                                 "the recording is truncated; cut it at the last whole word")

    def _decode_into(self, words: np.ndarray, state: np.ndarray, max_events: int, parts: list,
                     ev=None, n: int = 0, tr=None, tn: int = 0):
        """Decode all of `words`, appending full (events, triggers) chunks of at most
        max_events to `parts`; returns the last, partly filled buffers (ev, n, tr, tn)."""
        ev = self.buffers.get(max_events, EVENT_DTYPE) if ev is None else ev
        tr = np.empty(TRIGGER_BUFFER, TRIGGER_DTYPE) if tr is None else tr
        pos = 0
        while pos < len(words):
            used, k, m = self._decode(words[pos:], state, ev[n:], tr[tn:])
            pos += used
            n += k
            tn += m
            if n + self.max_per_word * self.group > max_events or tn == TRIGGER_BUFFER or used == 0:
                parts.append((ev[:n], tr[:tn].copy()))
                ev = self.buffers.get(max_events, EVENT_DTYPE)
                n = tn = 0
        return ev, n, tr, tn

    def chunks_and_triggers(self, max_events: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if max_events < 64:
            raise ValueError(f"max_events must be at least 64, got {max_events}")
        if self.threads > 1 and self.splittable:
            yield from self._chunks_two_threads(max_events)
            return
        state = self._new_state()
        self.dropped = 0
        ev, n, tr, tn = None, 0, None, 0
        for words in self._words(BLOCK_BYTES):
            parts: list = []
            ev, n, tr, tn = self._decode_into(words, state, max_events, parts, ev, n, tr, tn)
            yield from parts
        self.dropped = int(state[-1])
        if n or tn:
            yield ev[:n], tr[:tn].copy()

    def _chunks_two_threads(self, max_events: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each block cut at a point where decoding can start afresh (`_split`); the second
        half decoded by another thread while this one decodes the first (the kernels
        release the GIL), then corrected by what the first half ended with."""
        from concurrent.futures import ThreadPoolExecutor

        state = self._new_state()
        self.dropped = 0
        with ThreadPoolExecutor(1) as pool:
            for words in self._words(BLOCK_BYTES * 4):
                p = self._split(words)
                parts: list = []
                if p <= 0:
                    ev, n, tr, tn = self._decode_into(words, state, max_events, parts)
                    parts.append((ev[:n], tr[:tn].copy()))
                    yield from (c for c in parts if len(c[0]) or len(c[1]))
                    continue
                second = self._second_half(words, p, state)
                guess = second.copy()
                later: list = []
                job = pool.submit(self._decode_into, words[p:], second, max_events, later)
                ev, n, tr, tn = self._decode_into(words[:p], state, max_events, parts)
                parts.append((ev[:n], tr[:tn].copy()))
                ev, n, tr, tn = job.result()
                later.append((ev[:n], tr[:tn].copy()))
                self._join_halves(state, second, guess, words, p, later)
                yield from (c for c in parts + later if len(c[0]) or len(c[1]))
        self.dropped = int(state[-1])


class RawReader(WordReader):
    """Prophesee RAW: EVT 3.0, EVT 2.0 or EVT 2.1 after a `%` header."""

    def __init__(self, path: str | Path, header: Header) -> None:
        super().__init__(path, header)
        self.format = header.format
        self.width, self.height = header.width, header.height
        mod = {"EVT3": evt3, "EVT2": evt2, "EVT21": evt21}[self.format]
        self._mod = mod
        self.max_per_word = mod.MAX_PER_WORD
        self.word_dtype = np.dtype({"EVT3": "<u2", "EVT2": "<u4", "EVT21": "<u8"}[self.format])
        self.word_bytes = self.word_dtype.itemsize
        self.legacy = header.options.get("endianness", "").lower() == "legacy"
        # EVT 3.0, the slowest to decode, rebuilds its state after a TIME_HIGH followed by
        # TIME_LOW, y and vector base words: its blocks can be cut there
        self.splittable = self.format == "EVT3"

    def _new_state(self):
        return self._mod.new_state()

    def _split(self, words):
        return evt3.sync_point(words, len(words) // 2)

    def _second_half(self, words, p, state):
        return evt3.start_state(words, p, int(state[evt3.S_LOOP]))

    def _join_halves(self, state, second, guess, words, p, later):
        """The first half's end state says how many time wraps came before p; the second
        half counted on from the wraps before the block (`guess`). Its events move by the
        difference, and its end state becomes the reader's."""
        loop = int(state[evt3.S_LOOP]) + (1 if state[evt3.S_HIGH] >= 2048 + (int(words[p]) & 0xFFF) else 0)
        fix = loop - int(guess[evt3.S_LOOP])
        if fix:
            for ev, tr in later:
                ev["t"] += fix << 24
                tr["t"] += fix << 24
        dropped = state[evt3.S_DROPPED]
        state[:] = second
        state[evt3.S_LOOP] += fix
        state[evt3.S_DROPPED] += dropped
        return fix

    def _decode(self, words, state, ev, tr):
        if self.format == "EVT21":
            return evt21.decode(words, state, self.width, self.height, self.legacy, ev, tr)
        return self._mod.decode(words, state, self.width, self.height, ev, tr)


class DatReader(WordReader):
    """Prophesee DAT of CD events (8 bytes each)."""

    format = "DAT"
    word_dtype = np.dtype("<u4")
    word_bytes = 4
    group = 2
    max_per_word = 1

    def __init__(self, path: str | Path, header: Header, width: int | None = None,
                 height: int | None = None) -> None:
        with open(path, "rb") as f:
            f.seek(header.data_offset)
            kind = f.read(2)
        if len(kind) < 2:
            raise EventFileError(path, header.data_offset, "DAT file ends before its event type "
                                 "and size bytes", "the file is truncated")
        if kind[1] != dat.EVENT_SIZE or kind[0] not in dat.CD_TYPES:
            raise EventFileError(path, header.data_offset, f"DAT event type {kind[0]:#x} of size "
                                 f"{kind[1]} is not a CD event of 8 bytes",
                                 "only DAT files of CD events (Event2d/EventCD) are supported")
        header.data_offset += 2
        super().__init__(path, header)
        f = header.fields
        if width is None and "Width" in f and "Height" in f:
            width, height = _int(path, f["Width"], "Width", 0), _int(path, f["Height"], "Height", 0)
        if width is None and "geometry" in f:
            w, _, h = f["geometry"].lower().partition("x")
            width, height = _int(path, w, "geometry width", 0), _int(path, h, "geometry height", 0)
        self.width = width or dat.DEFAULT_WIDTH
        self.height = height or dat.DEFAULT_HEIGHT

    def _new_state(self):
        return dat.new_state()

    def _decode(self, words, state, ev, tr):
        return dat.decode(words, state, self.width, self.height, ev, tr)


class NmnistReader(EventReader):
    """N-MNIST .bin sample (34 x 34); small enough to be one chunk."""

    format = "NMNIST"
    width = height = 34

    def chunks_and_triggers(self, max_events: int = 1 << 16):
        from .nmnist import read_nmnist
        ev = read_nmnist(self.path)
        for i in range(0, len(ev), max_events):
            yield ev[i:i + max_events], empty_triggers()


def _looks_like_dat(h: Header) -> bool:
    text = " ".join(h.lines).lower()
    return "data file" in text or "event2d" in text or "eventcd" in text or (
        "version" in h.fields and "format" not in h.fields and "evt" not in h.fields
        and "system_ID" not in h.fields)


def open_events(path: str | Path, *, width: int | None = None, height: int | None = None,
                threads: int = 1) -> EventReader:
    """A reader for an event file, chosen by its content (not its extension).

    `width`/`height` override the sensor size where the file does not give it. With
    `threads` 2, EVT 3.0 blocks are decoded in two halves at once (other formats ignore it)."""
    if threads not in (1, 2):
        raise ValueError(f"threads must be 1 or 2, got {threads}")
    reader = _open(path, width, height)
    reader.threads = threads
    return reader


def _open(path: str | Path, width: int | None, height: int | None) -> EventReader:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such event file")
    with open(path, "rb") as f:
        start = f.read(16)
        if start.startswith(AEDAT4_MAGIC):
            from .aedat4 import Aedat4Reader
            return Aedat4Reader(path)
        if start.startswith(b"%"):
            header = read_header(f, path)
            if _looks_like_dat(header) and "format" not in header.fields and "evt" not in header.fields:
                return DatReader(path, header, width, height)
            header = resolve_raw(header, path) if (width is None) else _with_size(header, path, width, height)
            return RawReader(path, header)
    if path.suffix.lower() == ".bin" and len(start) and path.stat().st_size % 5 == 0:
        return NmnistReader(path)
    raise EventFileError(path, 0, "not a recognised event file (no '%' header of a RAW or DAT "
                         "file, no AEDAT4 signature)",
                         "supported: Prophesee RAW (EVT2/EVT21/EVT3), DAT, AEDAT4, N-MNIST .bin")


def _with_size(header: Header, path, width, height) -> Header:
    try:
        return resolve_raw(header, path)
    except EventFileError:
        header.width, header.height = width, height
        return resolve_raw(header, path)


def read_events(path: str | Path, *, with_triggers: bool = False, width: int | None = None,
                height: int | None = None, threads: int = 2) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """All events of a file as one EVENT_DTYPE array; with `with_triggers`, the tuple
    (events, triggers) with triggers as TRIGGER_DTYPE, read in the same pass. EVT 3.0 is
    decoded by `threads` threads (1 or 2)."""
    reader = open_events(path, width=width, height=height, threads=threads)
    if not with_triggers:
        return reader.read()
    ev, tr = [], []
    for e, t in reader.chunks_and_triggers(1 << 20):
        ev.append(e)
        tr.append(t)
    return join(ev, EVENT_DTYPE), join(tr, TRIGGER_DTYPE)
