"""What the console keeps of each viewed stream, reduced for the page.

`take()` runs in the console node's thread for every message that reaches it (through a
`latest` edge, so the newest only); `frame()` runs in the web server's thread at the view's
display rate and returns the binary frame of what is new (or None). Whatever the console
does not show is counted: chunks skipped upstream (the edge's `superseded` and `dropped`),
samples missing from a scope (`skipped_samples`), frames a slow page could not take
(`frames_skipped`, in the server).
"""
from __future__ import annotations

import collections
import math
import threading
from typing import Any

import numpy as np

from ..streams import COMMAND, DECISION, EVENT_DTYPE, EVENTS, FRAMES, MARKER, SAMPLES, SPIKES, Message
from . import protocol
from .kernels import fade, min_max_blocks, paint_events

SCOPE_BUCKETS_PER_S = 100    # min/max pairs per second and channel on the page
SCOPE_HISTORY_S = 10.0       # what a page that connects late gets first
MAX_SPIKE_NEURONS = 1024     # rasters of larger layers fold neurons together
MAX_ITEMS = 200              # decisions, commands, markers kept for a late page


class View:
    kind = 0
    fps = 20.0

    def __init__(self, vid: int, name: str, stream: str) -> None:
        self.vid, self.name, self.stream = vid, name, stream
        self.lock = threading.Lock()
        self.messages = 0

    def describe(self) -> dict[str, Any]:
        return {"id": self.vid, "name": self.name, "stream": self.stream,
                "kind": protocol.KIND_NAMES[self.kind], "messages": self.messages}

    def take(self, msg: Message) -> None:
        raise NotImplementedError

    def frames(self) -> list[bytes]:
        """The binary frames of what is new since the last call (one WebSocket message each)."""
        raise NotImplementedError

    def history(self) -> list[bytes]:
        return []


class SamplesView(View):
    """A scrolling scope: (min, max) of each block of samples per channel."""

    kind = protocol.SAMPLES
    fps = 20.0

    def __init__(self, vid: int, name: str, stream: str) -> None:
        super().__init__(vid, name, stream)
        self.layout: tuple | None = None
        self.pending: list[np.ndarray] = []
        self.recent: collections.deque = collections.deque()
        self.skipped_samples = 0

    def _reset(self, msg: Message) -> None:
        meta = msg.meta
        n = msg.data.shape[0]
        self.sfreq = float(meta.get("sfreq", 1.0)) or 1.0
        self.ch_names = [str(c) for c in meta.get("ch_names", range(n))]
        self.ch_types = [str(c) for c in meta.get("ch_types", ["?"] * n)]
        self.units = [str(c) for c in meta.get("units", [""] * n)]
        self.k = max(1, int(round(self.sfreq / SCOPE_BUCKETS_PER_S)))
        self.carry_min = np.zeros(n, np.float32)
        self.carry_max = np.zeros(n, np.float32)
        self.carry_n = 0
        self.next_sample: int | None = None
        self.pending.clear()
        self.recent.clear()
        self.layout = (n, self.sfreq, tuple(self.ch_names))

    def take(self, msg: Message) -> None:
        data = msg.data
        if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] == 0:
            return
        with self.lock:
            self.messages += 1
            n = data.shape[0]
            if self.layout is None or self.layout[0] != n or self.layout[1] != msg.meta.get("sfreq") \
                    or list(self.layout[2]) != list(msg.meta.get("ch_names", self.layout[2])):
                self._reset(msg)
            first = msg.meta.get("first_sample")
            if isinstance(first, int) and self.next_sample is not None and first > self.next_sample:
                # chunks skipped by the latest edge: a gap in the trace, not a join
                self.skipped_samples += first - self.next_sample
                self.pending.append(np.full((n, 2), np.nan, np.float32))
                self.carry_n = 0
            if isinstance(first, int):
                self.next_sample = first + data.shape[1]
            out = np.empty((n, 2 * (data.shape[1] // self.k + 1)), np.float32)
            written, self.carry_n = min_max_blocks(np.asarray(data, np.float32), self.carry_min,
                                                   self.carry_max, self.carry_n, self.k, out)
            if written:
                self.pending.append(out[:, :2 * written])

    def _frame(self, pairs: np.ndarray) -> bytes:
        return protocol.frame(self.kind, self.vid, {
            "ch_names": self.ch_names, "ch_types": self.ch_types, "units": self.units,
            "sfreq": self.sfreq, "points_per_s": 2 * self.sfreq / self.k,
            "skipped_samples": self.skipped_samples}, pairs)

    def frames(self) -> list[bytes]:
        with self.lock:
            if not self.pending:
                return []
            pairs = np.concatenate(self.pending, axis=1)
            self.pending.clear()
            self.recent.append(pairs)
            keep = int(SCOPE_HISTORY_S * 2 * self.sfreq / self.k)
            while sum(p.shape[1] for p in self.recent) - self.recent[0].shape[1] > keep:
                self.recent.popleft()
            return [self._frame(pairs)]

    def history(self) -> list[bytes]:
        with self.lock:
            if not self.recent:
                return []
            return [self._frame(np.concatenate(list(self.recent), axis=1))]


class EventsView(View):
    """Events accumulated into a frame: 1 ON, 2 OFF, 0 none; a pixel stays lit for
    PERSIST_FRAMES page frames (~100 ms), as a camera viewer's accumulation time."""

    kind = protocol.EVENTS
    fps = 30.0
    PERSIST_FRAMES = 3

    def __init__(self, vid: int, name: str, stream: str) -> None:
        super().__init__(vid, name, stream)
        self.image = np.zeros((0, 0), np.uint8)
        self.age = np.zeros((0, 0), np.uint8)
        self.events = 0
        self.lit = False
        self.dark_sent = True

    def take(self, msg: Message) -> None:
        data = msg.data
        if not isinstance(data, np.ndarray) or data.dtype.names is None:
            return
        h, w = int(msg.meta.get("height", 0)), int(msg.meta.get("width", 0))
        with self.lock:
            self.messages += 1
            if self.image.shape != (h, w):
                self.image = np.zeros((h, w), np.uint8)
                self.age = np.zeros((h, w), np.uint8)
            if len(data):
                paint_events(self.image, self.age, data["x"], data["y"], data["p"])
                self.events += len(data)
                self.lit = True

    def frames(self) -> list[bytes]:
        with self.lock:
            if not self.lit and self.dark_sent:
                return []  # the view went dark and was sent so: nothing while idle
            out = protocol.frame(self.kind, self.vid, {"events": self.events}, self.image)
            self.dark_sent = not self.lit
            self.lit = fade(self.image, self.age, self.PERSIST_FRAMES)
            return [out]


class ImageView(View):
    """Frames as an image: the chunks that reached the console since the last page frame,
    summed over bins (and channels), scaled to 0-255."""

    kind = protocol.IMAGE
    fps = 15.0

    def __init__(self, vid: int, name: str, stream: str) -> None:
        super().__init__(vid, name, stream)
        self.sum: np.ndarray | None = None
        self.fresh = False

    def take(self, msg: Message) -> None:
        data = msg.data
        if not isinstance(data, np.ndarray) or data.ndim < 2 or data.size == 0 or data.dtype.names:
            return
        img = np.asarray(data, np.float32)
        img = img.reshape(-1, *img.shape[-2:]).sum(axis=0) if img.ndim > 2 else img
        with self.lock:
            self.messages += 1
            if self.sum is None or self.sum.shape != img.shape or not self.fresh:
                self.sum = np.nan_to_num(img)
            else:
                self.sum += np.nan_to_num(img)
            self.fresh = True

    def frames(self) -> list[bytes]:
        with self.lock:
            if not self.fresh:
                return []
            img, self.fresh = self.sum, False
        lo, hi = float(img.min()), float(img.max())
        scaled = ((img - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(img)).astype(np.uint8)
        return [protocol.frame(self.kind, self.vid, {"min": lo, "max": hi}, scaled)]


class SpikesView(View):
    """A raster: which neurons spiked at each step (1) or not (0)."""

    kind = protocol.SPIKES
    fps = 20.0

    def __init__(self, vid: int, name: str, stream: str) -> None:
        super().__init__(vid, name, stream)
        self.pending: list[np.ndarray] = []
        self.layer = ""

    def take(self, msg: Message) -> None:
        data = msg.data
        if not isinstance(data, np.ndarray) or data.ndim < 1 or data.size == 0:
            return
        rows = data.reshape(data.shape[0], -1) if data.ndim > 1 else data.reshape(1, -1)
        fold = math.ceil(rows.shape[1] / MAX_SPIKE_NEURONS)
        if fold > 1:  # neighbouring neurons share a row of the raster
            pad = fold * math.ceil(rows.shape[1] / fold) - rows.shape[1]
            rows = np.pad(rows, ((0, 0), (0, pad))).reshape(rows.shape[0], -1, fold).max(axis=2)
        with self.lock:
            self.messages += 1
            self.layer = str(msg.meta.get("layer", ""))
            self.pending.append((rows > 0).astype(np.uint8))
            while len(self.pending) > 500:
                self.pending.pop(0)

    def frames(self) -> list[bytes]:
        with self.lock:
            if not self.pending:
                return []
            width = self.pending[-1].shape[1]
            rows = [r for r in self.pending if r.shape[1] == width]
            self.pending.clear()
        return [protocol.frame(self.kind, self.vid, {"layer": self.layer}, np.concatenate(rows)[-500:])]


class ItemsView(View):
    """Decisions, commands and markers: each item with its time, kept for late pages."""

    fps = 20.0

    def __init__(self, vid: int, name: str, stream: str) -> None:
        super().__init__(vid, name, stream)
        self.kind = protocol.DECISION if stream == DECISION else protocol.ITEMS
        self.pending: list[dict] = []
        self.recent: collections.deque = collections.deque(maxlen=MAX_ITEMS)

    def take(self, msg: Message) -> None:
        if not isinstance(msg.data, dict):
            return
        item = {k: v for k, v in msg.data.items() if k not in ("probabilities", "trace")}
        item["t_origin"] = msg.t_origin
        with self.lock:
            self.messages += 1
            if self.kind == protocol.DECISION:
                probs = np.asarray(msg.data.get("probabilities", []), np.float32).reshape(-1)
                trace = np.asarray(msg.data.get("trace", []), np.float32).reshape(-1)
                item["n_probabilities"] = int(probs.size)
                item["_payload"] = np.concatenate([probs, trace])
            self.pending.append(item)
            self.recent.append(item)
            del self.pending[:-MAX_ITEMS]

    def _frames(self, items: list[dict]) -> list[bytes]:
        if self.kind == protocol.DECISION:  # one frame per decision: its arrays as payload
            return [protocol.frame(self.kind, self.vid, {k: v for k, v in it.items() if k != "_payload"},
                                   it["_payload"]) for it in items]
        return [protocol.frame(self.kind, self.vid, {"items": items})] if items else []

    def frames(self) -> list[bytes]:
        with self.lock:
            items, self.pending = self.pending, []
        return self._frames(items)

    def history(self) -> list[bytes]:
        with self.lock:
            items = list(self.recent)
        return self._frames(items)


VIEW_TYPES = {SAMPLES: SamplesView, EVENTS: EventsView, FRAMES: ImageView, SPIKES: SpikesView,
              DECISION: ItemsView, COMMAND: ItemsView, MARKER: ItemsView}


def make_view(vid: int, name: str, stream: str) -> View | None:
    cls = VIEW_TYPES.get(stream)
    return None if cls is None else cls(vid, name, stream)


def warm_up_kernels() -> None:
    """Compile (or load from the cache) the kernels before the first message needs them."""
    ev = np.zeros(2, EVENT_DTYPE)
    img, age = np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint8)
    paint_events(img, age, ev["x"], ev["y"], ev["p"])
    paint_events(img, age, np.zeros(1, np.uint16), np.zeros(1, np.uint16), np.zeros(1, np.int8))
    fade(img, age, 3)
    for data in (np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32)[:, ::1]):
        min_max_blocks(data, np.zeros(1, np.float32), np.zeros(1, np.float32), 0, 1, np.zeros((1, 4), np.float32))
