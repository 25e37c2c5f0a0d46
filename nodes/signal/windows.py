"""`signal.window` and `signal.epochs`: windows over a stream, sliding or locked to markers."""
from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from streamer import streams
from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import FRAMES, MARKER, SAMPLES, Message

from .checks import (MAX_INDEX, MAX_SFREQ, as_signal, buffer_fits, first_sample, is_number, is_whole, require_samples,
                     t_first_s)


class Windower:
    """Cuts (channels, window) windows every `step` samples from chunks of any size.

    Samples are copied once into a buffer that is compacted only when full, so the cost
    per chunk is the chunk's own size, not the window's."""

    def __init__(self, window: int, step: int) -> None:
        self.window, self.step = window, step
        self.buf: np.ndarray | None = None
        self.n = 0              # valid samples in buf
        self.buf_start = 0      # sample index of buf[:, 0]
        self.next_start = 0     # sample index where the next window starts

    def push(self, x: np.ndarray, first_sample: int, copy: bool = True) -> list[tuple[int, np.ndarray]]:
        """(start, window) for each window `x` completes. With `copy=False` the windows are
        views of the buffer, valid until the next push: for a caller that reduces them at once."""
        if self.buf is None:
            self.buf = np.zeros((x.shape[0], 2 * (self.window + self.step) + x.shape[1]), np.float32)
            self.buf_start = self.next_start = first_sample
        if self.n + x.shape[1] > self.buf.shape[1]:
            drop = max(0, self.next_start - self.buf_start)  # nothing before the next window is needed
            keep = self.buf[:, drop:self.n].copy()
            if keep.shape[1] + x.shape[1] > self.buf.shape[1]:
                self.buf = np.zeros((x.shape[0], 2 * (keep.shape[1] + x.shape[1])), np.float32)
            self.buf[:, :keep.shape[1]] = keep
            self.n = keep.shape[1]
            self.buf_start += drop
        self.buf[:, self.n:self.n + x.shape[1]] = x
        self.n += x.shape[1]
        out = []
        end = self.buf_start + self.n
        while self.next_start + self.window <= end:
            lo = self.next_start - self.buf_start
            # a copy: the buffer is reused, windows handed on must not change
            win = self.buf[:, lo:lo + self.window]
            out.append((self.next_start, win.copy() if copy else win))
            self.next_start += self.step
        return out


def window_lengths(sfreq: float, window_ms: float, step_ms: float) -> tuple[int, int]:
    """(window, step) in samples, at least 1 each."""
    return max(1, round(window_ms * 1e-3 * sfreq)), max(1, round(step_ms * 1e-3 * sfreq))


def windows(x: np.ndarray, *, sfreq: float, window_ms: float = 1000.0, step_ms: float = 100.0) -> np.ndarray:
    """Sliding windows over a whole signal (what `signal.window` sends): `window_ms` long,
    one every `step_ms`, the first at the first sample; the last is the last one the
    signal fills.

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal.
    sfreq : float
        Its sampling rate (Hz).
    window_ms : float
        Window length (ms), rounded to whole samples.
    step_ms : float
        Time between window starts (ms), rounded to whole samples.

    Returns
    -------
    ndarray, float32, (windows, channels, window samples)
        Copies of the windows; window k starts at sample k x step.

    Examples
    --------
    >>> import numpy as np
    >>> windows(np.zeros((3, 1000)), sfreq=100.0, window_ms=2000, step_ms=500).shape
    (17, 3, 200)
    """
    Window.Params(window_ms=window_ms, step_ms=step_ms)
    x = as_signal(x, "windows")
    window, step = window_lengths(sfreq, window_ms, step_ms)
    wins = [w for _, w in Windower(window, step).push(x, 0)]
    return np.stack(wins) if wins else np.zeros((0, x.shape[0], window), np.float32)


def epoch_span(sfreq: float, tmin_s: float, tmax_s: float) -> tuple[int, int]:
    """Where an epoch starts and ends, in samples from its marker's sample."""
    return int(round(tmin_s * sfreq)), int(round(tmax_s * sfreq))


def epochs(x: np.ndarray, samples: np.ndarray, *, sfreq: float, tmin_s: float = 0.0,
           tmax_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Windows locked to markers (what `signal.epochs` sends, marker by marker): from
    `tmin_s` to `tmax_s` around each marker's sample. Markers whose epoch does not lie
    inside the signal are left out (`selection` says which were kept, as in MNE).

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal.
    samples : array of int
        Each marker's sample index in x (MNE's events[:, 0] with first_samp 0).
    sfreq : float
        Sampling rate (Hz).
    tmin_s, tmax_s : float
        Start and end of each epoch relative to its marker (s); rounded to samples.

    Returns
    -------
    data : ndarray, float32, (epochs, channels, samples)
        Copies of the epochs, in marker order.
    selection : ndarray of int
        Index in `samples` of each epoch's marker.

    Examples
    --------
    >>> import numpy as np
    >>> data, selection = epochs(np.zeros((2, 1000)), [100, 500, 950], sfreq=100.0, tmin_s=-0.5, tmax_s=1.0)
    >>> data.shape, selection.tolist()
    ((2, 2, 150), [0, 1])
    """
    Epochs.Params(tmin_s=tmin_s, tmax_s=tmax_s, keep_s=max(30.0, tmax_s - tmin_s))
    x = as_signal(x, "epochs")
    lo_off, hi_off = epoch_span(sfreq, tmin_s, tmax_s)
    s = np.asarray(samples, np.int64).reshape(-1)
    selection = np.flatnonzero((s + lo_off >= 0) & (s + hi_off <= x.shape[1]))
    data = np.zeros((len(selection), x.shape[0], hi_off - lo_off), np.float32)
    for k, i in enumerate(selection):
        data[k] = x[:, s[i] + lo_off:s[i] + hi_off]
    return data, selection


class Window(Transform):
    """Sliding windows of `window_ms` every `step_ms`, as Frames (1, channels, samples)
    or, with `output: samples`, as Samples chunks (channels, samples) that keep the
    stream's channel metadata and carry the window's first_sample and t_first_s."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(FRAMES)}

    class Params(Params):
        window_ms: float = Field(1000.0, gt=0, description="window length")
        step_ms: float = Field(100.0, gt=0, description="time between window starts")
        output: Literal["frames", "samples"] = Field("frames", description="stream type of the windows")

    @classmethod
    def ports(cls, params: Params) -> tuple[dict[str, Port], dict[str, Port]]:
        return dict(cls.inputs), {"out": Port(SAMPLES if params.output == "samples" else FRAMES)}

    def start(self) -> None:
        self.w = None
        self.key = None

    def receive(self, port: str, msg: Message) -> list[Message]:
        sfreq = require_samples(msg, "signal.window")
        m = msg.meta
        first = first_sample(msg, "signal.window", sfreq)
        t_dev = t_first_s(msg, "signal.window")
        if self.key != (sfreq, msg.data.shape[0]):
            window, step = window_lengths(sfreq, self.params.window_ms, self.params.step_ms)
            buffer_fits("signal.window", msg.data.shape[0], 2 * (window + step) + msg.data.shape[1], "a window")
            if self.key is not None:
                self.count("restarted")  # the stream changed: windows start again
            self.w, self.key = Windower(window, step), (sfreq, msg.data.shape[0])
        wins = self.w.push(msg.data, first)
        if self.params.output == "samples":
            t0 = t_dev - first / sfreq  # device time of sample 0
            # per-sample times (arrays['times']) are the chunk's, not the window's: left out
            return [replace(msg.with_data(win, first_sample=start, t_first_s=t0 + start / sfreq), arrays={})
                    for start, win in wins]
        return [streams.frames(win[None], bin_us=1e6 / sfreq, t_first_us=int(start * 1e6 / sfreq),
                               t_origin=msg.t_origin, first_sample=start, sfreq=sfreq, ch_names=m["ch_names"])
                for start, win in wins]


class Epochs(Transform):
    """Windows locked to Markers: from `tmin_s` to `tmax_s` around each marker's sample
    (its `sample`, as eeg.file and eeg.synthetic give, else its `time` x sfreq),
    emitted once the samples have arrived, as Frames (1, channels, samples) with the
    marker's label."""

    inputs = {"in": Port(SAMPLES), "markers": Port(MARKER)}
    outputs = {"out": Port(FRAMES)}

    class Params(Params):
        tmin_s: float = Field(0.0, description="start relative to the marker")
        tmax_s: float = Field(1.0, description="end relative to the marker")
        labels: list[str] | None = Field(None, description="markers to epoch (default: all)")
        keep_s: float = Field(30.0, gt=0, description="signal kept for markers that arrive late")

        @model_validator(mode="after")
        def _span(self) -> "Epochs.Params":
            if not self.tmax_s > self.tmin_s:
                raise ValueError(f"tmax_s ({self.tmax_s}) must be after tmin_s ({self.tmin_s})")
            if self.tmax_s - self.tmin_s > self.keep_s:
                raise ValueError(f"epochs of {self.tmax_s - self.tmin_s} s do not fit in keep_s "
                                 f"({self.keep_s} s); raise keep_s")
            return self

    def start(self) -> None:
        self.pending: list[tuple[int, dict]] = []
        self.buf: np.ndarray | None = None
        self.buf_start = 0
        self.sfreq = None
        self.meta: dict = {}

    def receive(self, port: str, msg: Message) -> list[Message]:
        if port == "markers":
            if msg.stream != MARKER:
                raise Rejected(f"signal.epochs: the markers port takes Marker messages, got {msg.stream}")
            item = msg.data
            if self.params.labels is None or item["label"] in self.params.labels:
                self._check_marker(item)
                self.pending.append((msg.t_origin, item))
            return self._ready(msg.t_origin)
        sfreq = require_samples(msg, "signal.epochs")
        first = first_sample(msg, "signal.epochs", sfreq)
        expected = None if self.buf is None else self.buf_start + self.buf.shape[1]
        if self.buf is None or (sfreq, msg.data.shape[0]) != (self.sfreq, self.buf.shape[0]) \
                or ("first_sample" in msg.meta and first != expected):
            if self.buf is not None:
                self.count("restarted")  # another layout, or samples lost: the signal kept is not this one's
            self.buf, self.buf_start = msg.data.copy(), first
        else:
            self.buf = np.concatenate([self.buf, msg.data], axis=1)
        self.sfreq = sfreq
        self.meta = msg.meta
        keep = int(self.params.keep_s * self.sfreq)
        if self.buf.shape[1] > keep:
            self.buf_start += self.buf.shape[1] - keep
            self.buf = self.buf[:, self.buf.shape[1] - keep:]
        return self._ready(msg.t_origin)

    def _check_marker(self, item: dict) -> None:
        """A marker must say where it is: its sample, else its device time."""
        if "sample" in item:
            if not is_whole(item["sample"]) or abs(item["sample"]) > MAX_INDEX:
                raise Rejected(f"signal.epochs: marker {item['label']!r} has sample {item['sample']!r}, not a "
                               "sample index; fix the marker's source")
        elif not is_number(item.get("time_s")) or not abs(item["time_s"]) * MAX_SFREQ <= MAX_INDEX:
            raise Rejected(f"signal.epochs: marker {item['label']!r} has neither a sample index nor a device "
                           f"time (time_s={item.get('time_s')!r}); give markers a `sample` or a `time_s`")

    def _sample(self, item: dict) -> int:
        if "sample" in item:
            return int(item["sample"])
        return int(round(item["time_s"] * self.sfreq))

    def _ready(self, t_origin: float) -> list[Message]:
        if self.buf is None or self.sfreq is None:
            return []
        out, left = [], []
        lo_off, hi_off = epoch_span(self.sfreq, self.params.tmin_s, self.params.tmax_s)
        end = self.buf_start + self.buf.shape[1]
        for t0, item in self.pending:
            s = self._sample(item)
            lo, hi = s + lo_off, s + hi_off
            if hi > end:
                left.append((t0, item))
                continue
            if lo < self.buf_start:
                self.count("epochs_too_late")
                continue
            win = self.buf[:, lo - self.buf_start:hi - self.buf_start].copy()
            out.append(streams.frames(win[None], bin_us=1e6 / self.sfreq, t_first_us=int(lo * 1e6 / self.sfreq),
                                      t_origin=max(t0, t_origin), label=item["label"], value=item.get("value"),
                                      first_sample=lo, ch_names=self.meta.get("ch_names")))
        self.pending = left
        return out
