"""Hot-pixel removal: drop every event of listed pixels, or of pixels learned to fire far
more than the others."""
from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator

import streamer.node
from streamer.node import Rejected
from streamer.streams import Message

from .base import EventTransform


class HotPixels(EventTransform):
    """Drops the events of hot pixels: those listed in `pixels` ([[x, y], ...]) and, when
    `learn_ms` > 0, those whose event count over the first `learn_ms` of device time is
    above `factor` x the median count of the pixels that fired. Events of the learning
    period pass with only the listed pixels removed (no start-up delay); the learned ones
    are removed from the end of that period on, however the stream is chunked. Counts
    dropped events as `dropped`; the learned pixels are in `self.hot`.
    """

    class Params(streamer.node.Params):
        pixels: list[tuple[int, int]] = Field(default_factory=list, description="known hot pixels as [x, y] pairs")
        learn_ms: float = Field(0.0, ge=0, description="learn hot pixels over this much device time first (ms); 0 = off")
        factor: float = Field(10.0, gt=1, description="hot = count above factor x the median count of active pixels")

        @field_validator("pixels")
        @classmethod
        def _on_a_sensor(cls, v: list[tuple[int, int]]) -> list[tuple[int, int]]:
            negative = [list(p) for p in v if min(p) < 0]
            if negative:
                raise ValueError(f"pixels {negative} lie outside any sensor; coordinates are >= 0")
            return v

    def start(self) -> None:
        self.mask: np.ndarray | None = None  # listed + learned pixels
        self.listed: np.ndarray | None = None
        self.counts: np.ndarray | None = None
        self.t_end: int | None = None
        self.hot: list[tuple[int, int]] = []

    def _setup(self, w: int, h: int) -> None:
        self.pixel_map(w, h)
        mask = np.zeros((h, w), dtype=np.bool_)
        for x, y in self.params.pixels:
            if not (0 <= x < w and 0 <= y < h):  # refused before any state changes
                raise Rejected(f"{self.name}: hot pixel [{x}, {y}] is outside the {w}x{h} sensor; "
                               "fix the `pixels` parameter")
            mask[y, x] = True
        self.mask = mask
        self.listed = self.mask.copy()
        if self.params.learn_ms > 0:
            self.counts = np.zeros(h * w, dtype=np.int64)

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg)
        if self.mask is None or self.mask.shape != (h, w):
            self._setup(w, h)
        ev = msg.data
        if self.counts is not None and len(ev):
            if self.t_end is None:
                self.t_end = int(ev["t"][0]) + int(round(self.params.learn_ms * 1e3))
            learning = ev[ev["t"] < self.t_end]
            self.counts += np.bincount(learning["y"].astype(np.int64) * w + learning["x"], minlength=h * w)
            if len(learning) < len(ev):  # the learning period is over
                self._learn(w)
        drop = self.mask[ev["y"], ev["x"]]
        if self.t_end is not None and len(ev) and ev["t"][0] < self.t_end:
            # events of the learning period lose only the listed pixels
            early = ev["t"] < self.t_end
            drop &= ~early | self.listed[ev["y"], ev["x"]]
        n = int(drop.sum())
        if n:
            self.count("dropped", n)
            return msg.with_data(ev[~drop])
        return msg

    def _learn(self, w: int) -> None:
        active = self.counts[self.counts > 0]
        if len(active):
            hot = np.flatnonzero(self.counts > self.params.factor * np.median(active))
            self.mask.ravel()[hot] = True
            self.hot = [(int(i % w), int(i // w)) for i in hot]
        self.counts = None
