"""`signal.window`, `signal.bandpower` and `signal.epochs`: windows over a stream."""
from __future__ import annotations

import numpy as np
import scipy.signal
from pydantic import Field

from streamer import streams
from streamer.node import Params, Port, Transform
from streamer.streams import FRAMES, MARKER, SAMPLES, Message


class Windower:
    """Cuts (channels, window) windows every `step` samples from chunks of any size."""

    def __init__(self, window: int, step: int) -> None:
        self.window, self.step = window, step
        self.buf: np.ndarray | None = None
        self.buf_start = 0      # sample index of buf[:, 0]
        self.next_start = 0     # sample index where the next window starts

    def push(self, x: np.ndarray, first_sample: int) -> list[tuple[int, np.ndarray]]:
        if self.buf is None:
            self.buf = np.zeros((x.shape[0], 0), np.float32)
            self.buf_start = self.next_start = first_sample
        self.buf = np.concatenate([self.buf, x], axis=1)
        out = []
        end = self.buf_start + self.buf.shape[1]
        while self.next_start + self.window <= end:
            lo = self.next_start - self.buf_start
            out.append((self.next_start, self.buf[:, lo:lo + self.window]))
            self.next_start += self.step
        drop = self.next_start - self.buf_start
        if drop > 0:
            self.buf = self.buf[:, drop:]
            self.buf_start += drop
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
        return [streams.frames(win[None].copy(), bin_us=1e6 / sfreq, t_first_us=int(start * 1e6 / sfreq),
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
            f, pxx = scipy.signal.welch(win, sfreq, nperseg=self.nperseg, axis=-1)
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
