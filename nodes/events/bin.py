"""Binning: events -> dense frames of counts per time bin, the input of an SNN."""
from __future__ import annotations

from numbers import Real
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, field_validator

import streamer.node
from streamer import streams
from streamer.node import Port, Rejected, Transform
from streamer.streams import EVENTS, FRAMES, Message

from .base import EventTransform, columns

# Bounds on the bins held at once: a chunk may span at most this many, and a jump of the
# device clock by more restarts the binning (a corrupt or reset timestamp would otherwise
# ask for terabytes of empty frames).
MAX_HELD_BYTES = 1 << 28
MAX_HELD_BINS = 1 << 16
# Device times beyond ±2^62 µs (146,000 years) are corrupt; bounding them keeps t - t0 in int64.
MAX_TIME_US = 1 << 62


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
    A chunk spanning more bins than can be held (MAX_HELD_BYTES, MAX_HELD_BINS) is
    rejected; when the device clock jumps by more, forwards or back, the bins held are sent
    and binning starts again at the new time (counted as `time_jumps`).
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
        frame_bytes = 4 * int(np.prod(self.params.shape))
        self.max_span_us = max(1, min(MAX_HELD_BINS, MAX_HELD_BYTES // frame_bytes)) * self.params.bin_us

    def _times(self, msg: Message) -> tuple[int | None, int | None, int | None]:
        """(earliest, newest, t_end_us) of the chunk, checked: refused before any state changes."""
        ev = msg.data
        t_end = msg.meta.get("t_end_us")
        if t_end is not None:
            if not isinstance(t_end, Real) or isinstance(t_end, bool) or not abs(t_end) <= MAX_TIME_US:
                raise Rejected(f"{self.name}: the Events stream's t_end_us must be a device time in µs, "
                               f"got {t_end!r}; fix its source")
            t_end = int(t_end)
        if not len(ev):
            return None, None, t_end
        lo, hi = int(ev["t"].min()), int(ev["t"].max())
        if lo < -MAX_TIME_US or hi > MAX_TIME_US:
            raise Rejected(f"{self.name}: event times {lo}..{hi} µs are not device times; fix the source's timestamps")
        if hi - lo > self.max_span_us:
            raise Rejected(f"{self.name}: one chunk spans {(hi - lo) / 1e6:g} s of device time, more than the "
                           f"{self.max_span_us // self.params.bin_us} bins of {self.params.bin_us} µs held at "
                           "once; send shorter chunks or widen bin_us")
        return lo, hi, t_end

    def _jumped(self, t: int | None) -> list[Message]:
        """Past the bins that can be held (a clock reset, a corrupt time): send the bins held
        and start again at the next event."""
        if t is None or self.t0 is None or abs(t - self.t0) <= self.max_span_us:
            return []
        self.count("time_jumps")
        out = self.finish() or []
        self.t0 = None
        return out

    def receive(self, port: str, msg: Message) -> list[Message] | None:
        w, h = self.geometry(msg)
        ev = msg.data
        bin_us = self.params.bin_us
        lo, hi, t_end = self._times(msg)
        out = self._jumped(hi) + self._jumped(lo)
        if len(ev):
            if self.t0 is None:
                self.t0 = int(ev["t"][0]) // bin_us * bin_us
            n_bins = max(1, len(self.held), (hi - self.t0) // bin_us + 1)
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
        # A source may say up to when its stream is complete (`t_end_us`): bins that end
        # by then close even if no event follows (silence, or everything filtered out).
        if self.t0 is None or (t_end is None and not len(ev)):
            return out or None
        self.t_origin = msg.t_origin
        # Bins before the newest event's are complete.
        complete = (int(ev["t"][-1]) - self.t0) // bin_us if len(ev) else 0
        if t_end is not None:
            out += self._jumped(t_end)
            if self.t0 is not None:
                out += self._close_until(t_end, complete) or []
        elif len(ev):
            k = self.params.frames_per_message
            out += self._emit(complete // k * k) or []
        return out or None

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
