"""`signal.window`, `signal.bandpower` and `signal.epochs`: windows over a stream."""
from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal
from pydantic import Field

from streamer import streams
from streamer.node import Params, Port, Transform
from streamer.streams import FRAMES, MARKER, SAMPLES, Message


def welch(x: np.ndarray, fs: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """scipy.signal.welch's defaults (Hann, half overlap, constant detrend, one-sided
    density) over the last axis, in float32 FFTs: the same numbers, faster."""
    step = nperseg - nperseg // 2
    win = scipy.signal.get_window("hann", nperseg).astype(np.float32)
    n_seg = (x.shape[-1] - nperseg) // step + 1
    idx = np.arange(n_seg)[:, None] * step + np.arange(nperseg)
    seg = x[:, idx]
    seg = seg - seg.mean(-1, keepdims=True)
    spec = scipy.fft.rfft(seg * win, axis=-1, workers=1)
    p = (spec.real ** 2 + spec.imag ** 2) / (fs * float((win.astype(np.float64) ** 2).sum()))
    if nperseg % 2:
        p[..., 1:] *= 2
    else:
        p[..., 1:-1] *= 2
    return np.fft.rfftfreq(nperseg, 1 / fs), p.mean(axis=1)


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

    def push(self, x: np.ndarray, first_sample: int) -> list[tuple[int, np.ndarray]]:
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
            out.append((self.next_start, self.buf[:, lo:lo + self.window].copy()))
            self.next_start += self.step
        return out


class Window(Transform):
    """Sliding windows of `window_ms` every `step_ms`, as Frames (1, channels, samples)."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(FRAMES)}

    class Params(Params):
        window_ms: float = Field(1000.0, gt=0, description="window length")
        step_ms: float = Field(100.0, gt=0, description="time between window starts")

    def start(self) -> None:
        self.w = None

    def receive(self, port: str, msg: Message) -> list[Message]:
        sfreq = msg.meta["sfreq"]
        if self.w is None:
            self.w = Windower(max(1, round(self.params.window_ms * 1e-3 * sfreq)),
                              max(1, round(self.params.step_ms * 1e-3 * sfreq)))
        return [streams.frames(win[None], bin_us=1e6 / sfreq, t_first_us=int(start * 1e6 / sfreq),
                               t_origin=msg.t_origin, first_sample=start, sfreq=sfreq,
                               ch_names=msg.meta["ch_names"])
                for start, win in self.w.push(msg.data, msg.meta["first_sample"])]


class BandPower(Transform):
    """Power in frequency bands per channel over sliding windows (Welch's method, Hann
    segments of `segment_ms`, half overlap; the same numbers as scipy.signal.welch on the
    window). Emits Frames (1, channels, bands) of V²/Hz, band means."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(FRAMES)}

    class Params(Params):
        bands: dict[str, tuple[float, float]] = Field({"mu": (8, 13), "beta": (13, 30)},
                                                      description="name -> [low Hz, high Hz]")
        window_ms: float = Field(1000.0, gt=0, description="window length")
        step_ms: float = Field(250.0, gt=0, description="time between windows")
        segment_ms: float = Field(500.0, gt=0, description="Welch segment length")
        log: bool = Field(False, description="log10 of the power")

    def start(self) -> None:
        self.w = None

    def receive(self, port: str, msg: Message) -> list[Message]:
        sfreq = msg.meta["sfreq"]
        p = self.params
        if self.w is None:
            self.w = Windower(max(1, round(p.window_ms * 1e-3 * sfreq)), max(1, round(p.step_ms * 1e-3 * sfreq)))
            self.nperseg = min(self.w.window, max(8, round(p.segment_ms * 1e-3 * sfreq)))
        out = []
        for start, win in self.w.push(msg.data, msg.meta["first_sample"]):
            f, pxx = welch(win, sfreq, self.nperseg)
            power = np.stack([pxx[:, (f >= lo) & (f <= hi)].mean(axis=1) for lo, hi in p.bands.values()], axis=1)
            if p.log:
                power = np.log10(power)
            out.append(streams.frames(power[None].astype(np.float32), bin_us=p.step_ms * 1e3,
                                      t_first_us=int(start * 1e6 / sfreq), t_origin=msg.t_origin,
                                      first_sample=start, bands=list(p.bands), ch_names=msg.meta["ch_names"]))
        return out


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

    def start(self) -> None:
        self.pending: list[tuple[int, dict]] = []
        self.buf: np.ndarray | None = None
        self.buf_start = 0
        self.sfreq = None
        self.meta: dict = {}

    def receive(self, port: str, msg: Message) -> list[Message]:
        if port == "markers":
            item = msg.data
            if self.params.labels is None or item["label"] in self.params.labels:
                self.pending.append((msg.t_origin, item))
            return self._ready(msg.t_origin)
        self.sfreq = msg.meta["sfreq"]
        self.meta = msg.meta
        if self.buf is None:
            self.buf, self.buf_start = msg.data.copy(), msg.meta["first_sample"]
        else:
            self.buf = np.concatenate([self.buf, msg.data], axis=1)
        keep = int(self.params.keep_s * self.sfreq)
        if self.buf.shape[1] > keep:
            self.buf_start += self.buf.shape[1] - keep
            self.buf = self.buf[:, -keep:]
        return self._ready(msg.t_origin)

    def _sample(self, item: dict) -> int:
        if "sample" in item:
            return int(item["sample"])
        return int(round(item["time"] * self.sfreq))

    def _ready(self, t_origin: float) -> list[Message]:
        if self.buf is None or self.sfreq is None:
            return []
        out, left = [], []
        lo_off = int(round(self.params.tmin_s * self.sfreq))
        hi_off = int(round(self.params.tmax_s * self.sfreq))
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
