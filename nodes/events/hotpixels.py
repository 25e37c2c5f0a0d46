"""Hot-pixel removal: drop every event of listed pixels, or of pixels learned to fire far
more than the others."""
from __future__ import annotations

from typing import Iterable

import numpy as np
from pydantic import Field, field_validator

import streamer.node
from streamer.node import Rejected
from streamer.streams import Message

from .base import EventTransform, OffSensor, check_events, check_sensor


class HotPixelsState:
    """`hotpixels` chunk by chunk: the learning period and the pixels learned carry over
    from the chunks before (fresh at construction); the learned pixels are in `hot`."""

    def __init__(self, *, width: int, height: int, pixels: Iterable[tuple[int, int]] = (),
                 learn_ms: float = 0.0, factor: float = 10.0) -> None:
        self.params = HotPixels.Params(pixels=list(pixels), learn_ms=learn_ms, factor=factor)
        w, h = self.width, self.height = check_sensor(width, height)
        mask = np.zeros((h, w), dtype=np.bool_)
        for x, y in self.params.pixels:
            if not (0 <= x < w and 0 <= y < h):
                raise ValueError(f"hot pixel [{x}, {y}] is outside the {w}x{h} sensor; fix the `pixels` parameter")
            mask[y, x] = True
        self.mask = mask  # listed + learned pixels
        self.listed = mask.copy()
        self.counts = np.zeros(h * w, dtype=np.int64) if self.params.learn_ms > 0 else None
        self.t_end: int | None = None
        self.hot: list[tuple[int, int]] = []

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ev = check_events(events)
        w, h = self.width, self.height
        if len(ev) and (int(ev["x"].max()) >= w or int(ev["y"].max()) >= h):
            raise OffSensor(ev, int(np.argmax((ev["x"] >= w) | (ev["y"] >= h))), w, h)
        if self.counts is not None and len(ev):
            if self.t_end is None:
                self.t_end = int(ev["t"][0]) + int(round(self.params.learn_ms * 1e3))
            learning = ev[ev["t"] < self.t_end]
            self.counts += np.bincount(learning["y"].astype(np.int64) * w + learning["x"], minlength=h * w)
            if len(learning) < len(ev):  # the learning period is over
                self._learn()
        drop = self.mask[ev["y"], ev["x"]]
        if self.t_end is not None and len(ev) and ev["t"][0] < self.t_end:
            # events of the learning period lose only the listed pixels
            early = ev["t"] < self.t_end
            drop &= ~early | self.listed[ev["y"], ev["x"]]
        return ev[~drop]

    def _learn(self) -> None:
        active = self.counts[self.counts > 0]
        if len(active):
            hot = np.flatnonzero(self.counts > self.params.factor * np.median(active))
            self.mask.ravel()[hot] = True
            self.hot = [(int(i % self.width), int(i // self.width)) for i in hot]
        self.counts = None


def hotpixels(events: np.ndarray, *, width: int, height: int, pixels: Iterable[tuple[int, int]] = (),
              learn_ms: float = 0.0, factor: float = 10.0) -> np.ndarray:
    """Hot-pixel removal over a whole stream (what `events.hotpixels` does).

    Drops every event of the `pixels` listed and, with `learn_ms` > 0, of the pixels whose
    event count over the first `learn_ms` of device time is above `factor` x the median
    count of the pixels that fired. Events of the learning period lose only the listed
    pixels. Use `HotPixelsState` to read the pixels learned (its `hot`).

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p) in time order.
    width, height : int
        Sensor size (pixels); every event must lie on it.
    pixels : iterable of (x, y)
        Known hot pixels.
    learn_ms : float
        Learn hot pixels over this much device time first (ms); 0 = off.
    factor : float
        Hot = count above factor x the median count of active pixels.

    Returns
    -------
    ndarray of EVENT_DTYPE
        The events kept, in input order (a new array).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[0, 3, 0], y=[0, 1, 0], p=[1, 1, 0], t=[0, 10, 20])
    >>> hotpixels(ev, width=4, height=2, pixels=[(0, 0)])["x"].tolist()
    [3]
    """
    return HotPixelsState(width=width, height=height, pixels=pixels, learn_ms=learn_ms, factor=factor)(events)


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
        self.state: HotPixelsState | None = None

    @property
    def hot(self) -> list[tuple[int, int]]:
        return self.state.hot if self.state is not None else []

    def receive(self, port: str, msg: Message) -> Message:
        w, h = self.geometry(msg)
        if self.state is None or (self.state.width, self.state.height) != (w, h):
            self.pixel_map(w, h)
            try:  # refused before any state changes
                self.state = HotPixelsState(width=w, height=h, **self.params.model_dump())
            except ValueError as exc:
                raise Rejected(f"{self.name}: {exc}") from None
        out = self.state(msg.data)
        n = len(msg.data) - len(out)
        if n:
            self.count("dropped", n)
            return msg.with_data(out)
        return msg
