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

from .held_frames import HeldFrames
from .base import EventTransform, OffSensor, check_events, check_sensor, first_outside, rows

# Bounds on the bins held at once: a chunk may span at most this many, and a jump of the
# device clock by more restarts the binning (a corrupt or reset timestamp would otherwise
# ask for terabytes of empty frames).
MAX_HELD_BYTES = 1 << 28
MAX_HELD_BINS = 1 << 16
# Device times beyond ±2^62 µs (146,000 years) are corrupt; bounding them keeps t - t0 in int64.
MAX_TIME_US = 1 << 62
# Frames `bin_events` makes at once (float32: 4 GiB): a corrupt timestamp must not ask for more.
MAX_FRAMES_BYTES = 1 << 32


@njit(cache=True, nogil=True)
def accumulate(words: np.ndarray, t0: int, bin_us: int, rows: np.ndarray, cols: np.ndarray, two: bool,
               out: np.ndarray, zeroed: int = 0, dirty: int = 0) -> tuple[int, int, int]:
    """Add each event (`words`: the events as (n, 2) uint64, see base.rows) to the
    frames `out` (bins, C * H * W) at bin (t - t0) // bin_us, channel p > 0 when `two`,
    row offset rows[y] and column cols[x] (-1 in either: outside a crop, skipped). Events
    before t0 go to bin 0. Returns (events before t0, events skipped outside the crop,
    bins initialised).

    Bins [zeroed, dirty) may hold old counts (a reused buffer): each is cleared when the
    first event reaches it, so that it is in cache for the events that follow (clearing
    all of them first would write them to memory and read them back). The caller clears
    those the events did not reach.

    Times arrive in order, so the bin of the previous event is tested before dividing:
    one division per bin, not per event."""
    frame = out.shape[1]
    on = frame // 2 if two else 0  # offset of the ON channel
    late = 0
    skipped = 0
    start = t0
    end = t0  # no bin cached yet
    base = 0
    flat = out.reshape(-1)
    for i in range(words.shape[0]):
        w = words[i, 0]
        r = rows[np.intp(w >> 16) & 0xFFFF]
        c = cols[np.intp(w & 0xFFFF)]
        if r < 0 or c < 0:
            skipped += 1
            continue
        t = np.int64(words[i, 1])
        if t < start or t >= end:
            if t < t0:
                late += 1
                b = np.int64(0)
                end = start  # an empty window: the next event divides again
            else:
                b = (t - t0) // bin_us
                start = t0 + b * bin_us
                end = start + bin_us
            base = b * frame
            if b >= zeroed:
                flat[zeroed * frame:min(b + 1, max(dirty, zeroed)) * frame] = 0
                zeroed = b + 1
        # p > 0 (p is an int8 in bits 32-39) without a branch: polarities are too mixed
        # for branch prediction
        positive = np.int64((((w >> 32) - 1) & 0xFF) < 127)
        flat[base + on * positive + r + c] += np.float32(1.0)
    return late, skipped, zeroed


@njit(cache=True, nogil=True)
def extent(words: np.ndarray) -> tuple[int, int, int, int]:
    """(earliest t, latest t, largest x, largest y) of the events as (n, 2) uint64 words:
    one pass instead of four over strided fields. Not for an empty chunk."""
    lo = hi = np.int64(words[0, 1])
    xmax = ymax = np.uint64(0)
    for i in range(words.shape[0]):
        t = np.int64(words[i, 1])
        lo = min(lo, t)
        hi = max(hi, t)
        w = words[i, 0]
        xmax = max(xmax, w & np.uint64(0xFFFF))
        ymax = max(ymax, (w >> np.uint64(16)) & np.uint64(0xFFFF))
    return lo, hi, np.int64(xmax), np.int64(ymax)


def tables(width: int, height: int, shape: tuple[int, int, int], fit: str) -> tuple[np.ndarray, np.ndarray]:
    """Per sensor row and column, the offset of its cell in a (H, W) plane (rows: y's row
    times W; cols: x's column), -1 outside a crop: the divisions of scaling done once."""
    _, hh, ww = shape
    y, x = np.arange(height, dtype=np.int64), np.arange(width, dtype=np.int64)
    if fit == "crop":
        row, col = y - (height - hh) // 2, x - (width - ww) // 2
        row[(row < 0) | (row >= hh)] = -1
        col[(col < 0) | (col >= ww)] = -1
        return np.where(row >= 0, row * ww, -1), col
    return y * hh // height * ww, x * ww // width


def add_events(ev: np.ndarray, t0: int, width: int, height: int, bin_us: int, fit: str,
               out: np.ndarray, lookup: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[int, int]:
    """Count the events into `out` (bins, C, H, W), bin 0 starting at t0, scaled from the
    width x height sensor or cropped to its centred window; returns `accumulate`'s
    (events before t0, events outside the crop). `lookup`: `tables(...)` for this sensor
    and shape, when the caller keeps them."""
    c, hh, ww = out.shape[1:]
    rows_, cols = lookup if lookup is not None else tables(width, height, (c, hh, ww), fit)
    return accumulate(rows(ev), t0, bin_us, rows_, cols, c == 2, out.reshape(out.shape[0], -1))[:2]


def bin_events(events: np.ndarray, *, width: int, height: int, bin_us: int = 1000,
               shape: tuple[int, int, int] = (2, 34, 34), fit: str = "scale") -> tuple[np.ndarray, int]:
    """Frames of event counts over a whole stream (what `events.bin` sends, all its
    messages together): bins `bin_us` wide from the first event's time rounded down to a
    multiple of bin_us, to the bin of the latest event (partial bin included), empty bins
    included.

    Parameters
    ----------
    events : ndarray of streamer.streams.EVENT_DTYPE
        Events (t in µs, x, y, p) in time order; earlier ones than the first go to bin 0.
    width, height : int
        Sensor size (pixels); every event must lie on it.
    bin_us : int
        Width of each time bin (µs, device clock).
    shape : (C, H, W)
        Frame shape; C = 2 (OFF, ON channels) or 1 (both polarities summed).
    fit : {"scale", "crop"}
        Scale the sensor's coordinates to H x W, or keep its centred H x W window at full
        resolution (events outside it are left out).

    Returns
    -------
    frames : ndarray, float32, (bins, C, H, W)
        Event counts (a new array).
    t_first_us : int
        Start of the first bin (µs); 0 when there are no events (and no frames).

    Examples
    --------
    >>> from streamer.streams import as_events
    >>> ev = as_events(x=[0, 3, 3], y=[0, 3, 3], p=[1, 0, 1], t=[1500, 2100, 3999])
    >>> frames, t_first_us = bin_events(ev, width=4, height=4, bin_us=1000, shape=(2, 2, 2))
    >>> frames.shape, t_first_us, float(frames.sum())
    ((3, 2, 2, 2), 1000, 3.0)
    """
    p = Bin.Params(bin_us=bin_us, shape=shape, fit=fit)
    ev = check_events(events)
    w, h = check_sensor(width, height, per_pixel=False)
    bad = first_outside(ev["x"], ev["y"], w, h)
    if bad >= 0:
        raise OffSensor(ev, bad, w, h)
    if not len(ev):
        return np.zeros((0,) + p.shape, np.float32), 0
    t0 = int(ev["t"][0]) // p.bin_us * p.bin_us
    n_bins = max(1, (int(ev["t"].max()) - t0) // p.bin_us + 1)
    if n_bins * 4 * int(np.prod(p.shape)) > MAX_FRAMES_BYTES:
        raise ValueError(f"{n_bins} bins of {p.bin_us} µs and shape {list(p.shape)} take more than "
                         f"{MAX_FRAMES_BYTES >> 30} GiB; bin a shorter stretch or widen bin_us")
    frames = np.zeros((n_bins,) + p.shape, np.float32)
    add_events(ev, t0, w, h, p.bin_us, p.fit, frames)
    return frames, t0


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
        self.held = HeldFrames(self.params.shape)  # complete + partial bins
        self.t_origin = float("nan")
        self.lookup: tuple[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None
        frame_bytes = 4 * int(np.prod(self.params.shape))
        self.max_span_us = max(1, min(MAX_HELD_BINS, MAX_HELD_BYTES // frame_bytes)) * self.params.bin_us

    def _tables(self, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """`tables` for this sensor, made again only when the sensor changes."""
        if self.lookup is None or self.lookup[0] != (w, h):
            self.lookup = (w, h), tables(w, h, self.params.shape, self.params.fit)
        return self.lookup[1]

    def _times(self, msg: Message, words: np.ndarray, w: int, h: int) -> tuple[int | None, int | None, int | None]:
        """(earliest, newest, t_end_us) of the chunk, checked, events on the w x h sensor
        included: refused before any state changes."""
        t_end = msg.meta.get("t_end_us")
        if t_end is not None:
            if not isinstance(t_end, Real) or isinstance(t_end, bool) or not abs(t_end) <= MAX_TIME_US:
                raise Rejected(f"{self.name}: the Events stream's t_end_us must be a device time in µs, "
                               f"got {t_end!r}; fix its source")
            t_end = int(t_end)
        if not len(words):
            return None, None, t_end
        lo, hi, xmax, ymax = extent(words)
        if xmax >= w or ymax >= h:
            raise Rejected(f"{self.name}: event at x={xmax}, y={ymax} outside the {w}x{h} sensor named in "
                           "the stream's metadata; fix the source's width/height")
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
        # the events are checked against the sensor in the one pass of `extent`
        w, h = self.geometry(msg, check=False)
        ev = msg.data
        words = rows(ev)
        bin_us = self.params.bin_us
        lo, hi, t_end = self._times(msg, words, w, h)
        out = self._jumped(hi) + self._jumped(lo)
        if len(ev):
            if self.t0 is None:
                self.t0 = int(words[0, 1]) // bin_us * bin_us
            self.held.grow(max(1, (hi - self.t0) // bin_us + 1), clear=False)
            frames, zeroed, dirty = self.held.unsettled()
            row_of, col_of = self._tables(w, h)
            late, outside, zeroed = accumulate(words, self.t0, bin_us, row_of, col_of, self.params.shape[0] == 2,
                                               frames.reshape(len(frames), -1), zeroed, dirty)
            self.held.settle(zeroed)
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
        complete = (int(words[-1, 1]) - self.t0) // bin_us if len(ev) else 0
        if t_end is not None:
            out += self._jumped(t_end)
            if self.t0 is not None:
                out += self._close_until(t_end, complete) or []
        elif len(ev):
            k = self.params.frames_per_message
            out += self._emit(complete // k * k) or []
        return out or None

    def _close_until(self, t_end: int, complete: int = 0) -> list[Message] | None:
        complete = max(complete, (t_end - self.t0) // self.params.bin_us)
        self.held.grow(complete)
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
        # Views, no copies: emitted bins are never written again while a view of them lives.
        sent = self.held.take(n)
        out = [streams.frames(sent[i:i + k], bin_us=bin_us, t_first_us=self.t0 + i * bin_us,
                              t_origin=self.t_origin, shape=list(self.params.shape))
               for i in range(0, n, k)]
        self.t0 += n * bin_us
        return out
