"""Binning: events -> dense frames of counts per time bin, the input of an SNN."""
from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, field_validator

import streamer.node
from streamer import streams
from streamer.node import Port, Transform
from streamer.streams import EVENTS, FRAMES, Message

from .base import EventTransform, columns


@njit(cache=True, nogil=True)
def accumulate(x: np.ndarray, y: np.ndarray, p: np.ndarray, t: np.ndarray, t0: int, bin_us: int,
               width: int, height: int, crop: bool, x0: int, y0: int,
               out: np.ndarray) -> tuple[int, int]:
    """Add each event to out[(t - t0) // bin_us, channel, row, column] (channel = p when
    out has 2 channels, else 0). Scaling: row = y * H // height, column = x * W // width;
    crop: row = y - y0, column = x - x0, events outside the frame skipped. Events before
    t0 go to bin 0. Returns (events before t0, events skipped outside the crop)."""
    nb, c, hh, ww = out.shape
    late = 0
    skipped = 0
    for i in range(x.shape[0]):
        if crop:
            row, col = np.int64(y[i]) - y0, np.int64(x[i]) - x0
            if row < 0 or row >= hh or col < 0 or col >= ww:
                skipped += 1
                continue
        else:
            row, col = (np.int64(y[i]) * hh) // height, (np.int64(x[i]) * ww) // width
        b = (t[i] - t0) // bin_us
        if b < 0:
            b = 0
            late += 1
        ch = 0 if c == 1 else (1 if p[i] > 0 else 0)
        out[b, ch, row, col] += 1.0
    return late, skipped


class Bin(Transform):
    """Bins events into frames of counts, `bin_us` wide on the device clock, of shape
    [C, H, W]: C = 2 (OFF, ON channels) or 1 (both polarities summed). With fit =
    "scale", coordinates are scaled from the sensor's width/height to W/H; with "crop", the
    centred W x H window of the sensor is kept at full resolution (events outside it are
    counted as `outside`; a sensor smaller than the frame is centred in it). Bins start at the first event's time
    rounded down to a multiple of bin_us. A bin is emitted once an event at or after its
    end arrives (empty bins included, so frames stay evenly spaced in time), grouped
    `frames_per_message` at a time; finish() flushes the rest, partial bin included.
    Output meta: bin_us, t_first_us (start of the message's first bin), shape.
    """

    inputs = {"in": Port(EVENTS)}
    outputs = {"out": Port(FRAMES)}

    class Params(streamer.node.Params):
        bin_us: int = Field(1000, gt=0, description="width of each time bin (µs, device clock)")
        shape: tuple[int, int, int] = Field((2, 34, 34), description="[C, H, W] of each frame; C is 1 or 2")
        frames_per_message: int = Field(1, ge=1, description="frames sent together in one message")
        fit: Literal["scale", "crop"] = Field("scale", description="scale the sensor to [H, W], or crop "
                                                                   "its centred H x W window")

        @field_validator("shape")
        @classmethod
        def _channels(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
            if v[0] not in (1, 2) or v[1] < 1 or v[2] < 1:
                raise ValueError(f"shape must be [C, H, W] with C = 1 or 2 and H, W >= 1, got {list(v)}")
            return v

    @classmethod
    def ports(cls, params: "Bin.Params") -> tuple[dict[str, Port], dict[str, Port]]:
        return dict(cls.inputs), {"out": Port(FRAMES, "bins (bins, C, H, W)", shape=params.shape,
                                              shape_from="shape")}

    geometry = EventTransform.geometry

    warm_up = EventTransform.warm_up  # compile the binning kernel before live data

    def start(self) -> None:
        self.t0: int | None = None  # start of the first bin not yet emitted
        self.held = np.zeros((0,) + self.params.shape, np.float32)  # complete + partial bins
        self.t_origin = float("nan")

    def receive(self, port: str, msg: Message) -> Message | list[Message] | None:
        w, h = self.geometry(msg)
        ev = msg.data
        bin_us = self.params.bin_us
        # A source may say up to when its stream is complete (`t_end_us`): bins that end
        # by then close even if no event follows (silence, or everything filtered out).
        t_end = msg.meta.get("t_end_us")
        if len(ev) == 0:
            if t_end is None or self.t0 is None:
                return None
            self.t_origin = msg.t_origin
            return self._close_until(int(t_end))
        if self.t0 is None:
            self.t0 = int(ev["t"][0]) // bin_us * bin_us
        n_bins = max(1, len(self.held), int(ev["t"].max() - self.t0) // bin_us + 1)
        if n_bins > len(self.held):
            grown = np.zeros((n_bins,) + self.params.shape, np.float32)
            grown[:len(self.held)] = self.held
            self.held = grown
        x, y, p, t = columns(ev)
        _, hh, ww = self.params.shape
        late, outside = accumulate(x, y, p, t, self.t0, bin_us, w, h, self.params.fit == "crop",
                                   (w - ww) // 2, (h - hh) // 2, self.held)
        if late:
            self.count("late", late)
        if outside:
            self.count("outside", outside)
        self.t_origin = msg.t_origin
        # Bins before the newest event's are complete.
        complete = int(ev["t"][-1] - self.t0) // bin_us
        if t_end is not None:
            return self._close_until(int(t_end), complete)
        k = self.params.frames_per_message
        return self._emit(complete // k * k)

    def _close_until(self, t_end: int, complete: int = 0) -> list[Message] | None:
        bin_us = self.params.bin_us
        complete = max(complete, (t_end - self.t0) // bin_us)
        if complete > len(self.held):
            grown = np.zeros((complete,) + self.params.shape, np.float32)
            grown[:len(self.held)] = self.held
            self.held = grown
        k = self.params.frames_per_message
        return self._emit(complete // k * k)

    def finish(self) -> list[Message] | None:
        if not len(self.held):
            return None
        return self._emit(len(self.held))

    def _emit(self, n: int) -> list[Message] | None:
        if n <= 0:
            return None
        k = self.params.frames_per_message
        bin_us = self.params.bin_us
        out = []
        for i in range(0, n, k):
            j = min(i + k, n)
            out.append(streams.frames(self.held[i:j], bin_us=bin_us, t_first_us=self.t0 + i * bin_us,
                                      t_origin=self.t_origin, shape=list(self.params.shape)))
        # Views, no copies: emitted bins are never written again; only the rest is.
        self.held = self.held[n:]
        self.t0 += n * bin_us
        return out
