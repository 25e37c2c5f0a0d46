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

from .base import EventTransform, OffSensor, check_events, check_sensor, columns, first_outside

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


def add_events(ev: np.ndarray, t0: int, width: int, height: int, bin_us: int, fit: str,
               out: np.ndarray) -> tuple[int, int]:
    """Count the events into `out` (bins, C, H, W), bin 0 starting at t0, scaled from the
    width x height sensor or cropped to its centred window; returns `accumulate`'s
    (events before t0, events outside the crop)."""
    x, y, p, t = columns(ev)
    _, _, hh, ww = out.shape
    return accumulate(x, y, p, t, t0, bin_us, width, height, fit == "crop", (width - ww) // 2, (height - hh) // 2,
                      out)


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
            late, outside = add_events(ev, self.t0, w, h, bin_us, self.params.fit, self.held)
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
