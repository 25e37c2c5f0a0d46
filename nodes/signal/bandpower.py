"""`signal.bandpower`: power per frequency band and channel over sliding windows."""
from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal
from numba import njit
from pydantic import Field, model_validator

from streamer import streams
from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import FRAMES, SAMPLES, Message

from .checks import buffer_fits, first_sample, require_samples
from .filter import design_for
from .sos_kernel import sosfilt_chunk
from .windows import Windower


@njit(cache=True, nogil=True)
def detrend_window(x: np.ndarray, start: int, nperseg: int, step: int, n_seg: int,
                   win: np.ndarray) -> np.ndarray:
    """Welch's segments of x (channels, samples) from `start`, each minus its mean (in
    float64) and times the window: (channels * n_seg, nperseg) float32, ready for the FFT."""
    n_ch = x.shape[0]
    out = np.empty((n_ch * n_seg, nperseg), np.float32)
    for c in range(n_ch):
        for k in range(n_seg):
            lo = start + k * step
            m = 0.0
            for i in range(nperseg):
                m += x[c, lo + i]
            m /= nperseg
            for i in range(nperseg):
                out[c * n_seg + k, i] = (x[c, lo + i] - m) * win[i]
    return out


@njit(cache=True, nogil=True)
def band_sums(spec: np.ndarray, n_seg: int, bins: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(channels, bands): sum over the bands' bins (weights: one-sided density scale
    divided by the band's bin count) of |spec|², averaged over each channel's segments.
    Only the bins inside some band are touched."""
    n_ch = spec.shape[0] // n_seg
    n_bands = bins.shape[0]
    out = np.zeros((n_ch, n_bands))
    for c in range(n_ch):
        for k in range(n_seg):
            row = c * n_seg + k
            for b in range(n_bands):
                acc = 0.0
                for j in range(bins.shape[1]):
                    f = bins[b, j]
                    if f < 0:
                        break
                    v = spec[row, f]
                    acc += weights[b, j] * (np.float64(v.real) ** 2 + np.float64(v.imag) ** 2)
                out[c, b] += acc
    return out / n_seg


class WelchBands:
    """Band means of scipy.signal.welch's density (Hann, half overlap, constant detrend,
    one-sided) for fixed bands, sampling rate and segment length: float32 FFTs and only
    the bins the bands cover."""

    def __init__(self, bands: dict[str, tuple[float, float]], fs: float, nperseg: int, segment_ms: float,
                 who: str = "signal.bandpower") -> None:
        self.nperseg, self.step = nperseg, nperseg - nperseg // 2
        self.win = scipy.signal.get_window("hann", nperseg).astype(np.float32)
        freqs = np.fft.rfftfreq(nperseg, 1 / fs)
        masks = [np.flatnonzero((freqs >= lo) & (freqs <= hi)) for lo, hi in bands.values()]
        empty = [name for name, m in zip(bands, masks) if m.size == 0]
        if empty:
            raise Rejected(f"{who}: bands {empty} hold no frequency bin of {segment_ms:g} ms segments "
                           f"(bins every {freqs[1]:.3g} Hz up to {freqs[-1]:.4g} Hz); lengthen segment_ms "
                           "or widen the bands")
        scale = 1.0 / (fs * float((self.win.astype(np.float64) ** 2).sum()))
        last = freqs.size - 1
        width = max(m.size for m in masks)
        self.bins = np.full((len(masks), width), -1, np.int64)
        self.weights = np.zeros((len(masks), width))
        for b, m in enumerate(masks):
            self.bins[b, :m.size] = m
            one_sided = np.where((m == 0) | ((m == last) & (nperseg % 2 == 0)), 1.0, 2.0)
            self.weights[b, :m.size] = scale * one_sided / m.size
        self.n_fft = int(self.bins.max()) + 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(channels, bands) for the window x (channels, samples)."""
        n_seg = (x.shape[1] - self.nperseg) // self.step + 1
        seg = detrend_window(np.ascontiguousarray(x), 0, self.nperseg, self.step, n_seg, self.win)
        spec = scipy.fft.rfft(seg, axis=-1, workers=1)
        return band_sums(spec, n_seg, self.bins, self.weights)


class BandPower(Transform):
    """Power in frequency bands per channel over sliding windows of `window_ms` every
    `step_ms`, as Frames (1, channels, bands) with meta `bands`:

    - `welch`: Welch's method on each window (Hann segments of `segment_ms`, half
      overlap, constant detrend), the band mean of the density in V²/Hz: the same numbers
      as scipy.signal.welch on the window. When step_ms is a multiple of the segment step,
      each segment is transformed once, as soon as it is complete, and windows average
      them: the work is spread over the chunks instead of landing on one;
    - `hilbert`: each band filtered causally (Butterworth band-pass of `order`, streaming,
      equal to sosfilt over the whole signal), then the mean squared Hilbert envelope of
      the window (V²)."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(FRAMES)}

    class Params(Params):
        bands: dict[str, tuple[float, float]] = Field({"mu": (8, 13), "beta": (13, 30)},
                                                      description="name -> [low Hz, high Hz]")
        method: Literal["welch", "hilbert"] = Field("welch", description="spectral estimate")
        window_ms: float = Field(1000.0, gt=0, description="window length")
        step_ms: float = Field(250.0, gt=0, description="time between windows")
        segment_ms: float = Field(500.0, gt=0, description="welch: segment length")
        order: int = Field(4, ge=1, le=8, description="hilbert: band-pass order")
        log: bool = Field(False, description="log10 of the power")

        @model_validator(mode="after")
        def _bands(self):
            bad = {k: v for k, v in self.bands.items() if not 0 <= v[0] < v[1]}
            if bad:
                raise ValueError(f"bands need 0 <= low < high Hz, got {bad}")
            return self

    def start(self) -> None:
        self.key = None

    def warm_up(self) -> None:
        x = np.zeros((1, 4), np.float32)
        x.setflags(write=False)
        sosfilt_chunk(np.zeros((1, 6)), x, np.zeros((1, 1, 2)))
        WelchBands({"b": (0.0, 1.0)}, 8.0, 8, 1000.0)(np.zeros((1, 8), np.float32))

    def _init(self, sfreq: float, n_ch: int, first: int) -> None:
        """Windows and estimators for this stream; Rejected (nothing changed) when the
        parameters do not fit its sampling rate."""
        p = self.params
        window = max(1, round(p.window_ms * 1e-3 * sfreq))
        step = max(1, round(p.step_ms * 1e-3 * sfreq))
        buffer_fits("signal.bandpower", n_ch, 2 * (window + step), "a window")
        if p.method == "welch":
            nperseg = min(window, max(8, round(p.segment_ms * 1e-3 * sfreq)))
            welch = WelchBands(p.bands, sfreq, nperseg, p.segment_ms)
            seg_step = nperseg - nperseg // 2
            self.nperseg, self.welch, self.seg_step = nperseg, welch, seg_step
            self.per_segment = step % seg_step == 0
            self.n_seg = (window - nperseg) // seg_step + 1
            self.seg_power: dict[int, np.ndarray] = {}
            self.w = Windower(nperseg, seg_step) if self.per_segment else Windower(window, step)
        else:
            nyq = sfreq / 2
            bands = [(max(lo, 1e-3 * nyq), min(hi, 0.999 * nyq)) for lo, hi in p.bands.values()]
            empty = [name for name, (lo, hi) in zip(p.bands, bands) if not lo < hi]
            if empty:
                raise Rejected(f"signal.bandpower: bands {empty} lie above the Nyquist frequency {nyq:g} Hz of the "
                               "stream; lower them or use a faster stream")
            self.sos = [design_for("signal.bandpower", "bandpass", sfreq, lo, hi, p.order, None, 1, "butter")
                        for lo, hi in bands]
            self.zi = [np.zeros((n_ch, s.shape[0], 2)) for s in self.sos]
            self.w = Windower(window, step)
        self.window, self.step, self.next_start = window, step, first

    def _frame(self, power: np.ndarray, start: int, sfreq: float, msg: Message) -> Message:
        if self.params.log:
            power = np.log10(power)
        return streams.frames(power[None].astype(np.float32), bin_us=self.params.step_ms * 1e3,
                              t_first_us=int(start * 1e6 / sfreq), t_origin=msg.t_origin, first_sample=start,
                              bands=list(self.params.bands), ch_names=msg.meta["ch_names"], method=self.params.method)

    def receive(self, port: str, msg: Message) -> list[Message]:
        sfreq = require_samples(msg, "signal.bandpower")
        n_ch, first = msg.data.shape[0], first_sample(msg, "signal.bandpower", sfreq)
        if self.key != (sfreq, n_ch):
            self._init(sfreq, n_ch, first)
            if self.key is not None:
                self.count("restarted")
            self.key = (sfreq, n_ch)
        out = []
        if self.params.method == "hilbert":
            x = np.ascontiguousarray(msg.data, dtype=np.float32)
            y = np.concatenate([sosfilt_chunk(s, x, z)[0] for s, z in zip(self.sos, self.zi)])
            for start, win in self.w.push(y, first):
                env = np.abs(scipy.signal.hilbert(win.astype(np.float64), axis=-1)) ** 2
                out.append(self._frame(env.mean(axis=-1).reshape(len(self.sos), n_ch).T, start, sfreq, msg))
            return out
        if not self.per_segment:
            for start, win in self.w.push(msg.data, first):
                out.append(self._frame(self.welch(win), start, sfreq, msg))
            return out
        # Band means are linear, so the window's band power is the mean of its segments'.
        for start, seg in self.w.push(msg.data, first):
            self.seg_power[start] = self.welch(seg)
        end = self.w.buf_start + self.w.n  # samples numbered as the windows are
        while self.next_start + self.window <= end:
            s0 = self.next_start
            parts = [self.seg_power[s0 + j * self.seg_step] for j in range(self.n_seg)]
            out.append(self._frame(np.mean(parts, axis=0), s0, sfreq, msg))
            self.next_start += self.step
            for k in [k for k in self.seg_power if k < self.next_start]:
                del self.seg_power[k]
        return out
