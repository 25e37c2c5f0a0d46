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

from .checks import as_signal, buffer_fits, first_sample, require_samples
from .filter import design_finite, no_filter
from .sos_kernel import sosfilt_chunk
from .windows import Windower, window_lengths


WELCH_BLOCK = 16  # channels transformed together (fastest of 4-1024 at 30 kHz)


# reassoc: the mean's sum may be vectorised (float64 all the same; an order change only)
@njit(cache=True, nogil=True, fastmath={"reassoc"})
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
        out = np.empty((x.shape[0], self.bins.shape[0]))
        # A block of channels at a time: its segments and spectra stay in the CPU's cache
        # (all channels at once are tens of MB at 30 kHz). x may be a view of a window
        # buffer: read in place, not copied first.
        for c0 in range(0, x.shape[0], WELCH_BLOCK):
            seg = detrend_window(x[c0:c0 + WELCH_BLOCK], 0, self.nperseg, self.step, n_seg, self.win)
            spec = scipy.fft.rfft(seg, axis=-1, workers=1)
            out[c0:c0 + WELCH_BLOCK] = band_sums(spec, n_seg, self.bins, self.weights)
        return out


class BandPowerState:
    """`bandpower` chunk by chunk, for one signal of `n_channels` at `sfreq`: each call
    returns the windows completed by its chunk, as (starts, power) with starts the sample
    index of each window's first sample (numbered from `first_sample`) and power (windows,
    channels, bands) float32; together they equal one `bandpower` call. `who` begins the
    error messages."""

    def __init__(self, *, sfreq: float, n_channels: int, bands: dict[str, tuple[float, float]] | None = None,
                 method: str = "welch", window_ms: float = 1000.0, step_ms: float = 250.0,
                 segment_ms: float = 500.0, order: int = 4, log: bool = False, first_sample: int = 0,
                 who: str = "bandpower") -> None:
        kw = {} if bands is None else {"bands": bands}
        p = self.params = BandPower.Params(method=method, window_ms=window_ms, step_ms=step_ms,
                                           segment_ms=segment_ms, order=order, log=log, **kw)
        self.n_ch = n_channels
        window, step = window_lengths(sfreq, p.window_ms, p.step_ms)
        buffer_fits(who, n_channels, 2 * (window + step), "a window")
        if p.method == "welch":
            nperseg = min(window, max(8, round(p.segment_ms * 1e-3 * sfreq)))
            self.welch = WelchBands(p.bands, sfreq, nperseg, p.segment_ms, who)
            seg_step = nperseg - nperseg // 2
            self.seg_step = seg_step
            # Band means are linear, so a window's band power is the mean of its segments':
            # when windows step by whole segments, each segment is transformed once.
            self.per_segment = step % seg_step == 0
            self.n_seg = (window - nperseg) // seg_step + 1
            self.seg_power: dict[int, np.ndarray] = {}
            self.w = Windower(nperseg, seg_step) if self.per_segment else Windower(window, step)
        else:
            nyq = sfreq / 2
            bands = [(max(lo, 1e-3 * nyq), min(hi, 0.999 * nyq)) for lo, hi in p.bands.values()]
            empty = [name for name, (lo, hi) in zip(p.bands, bands) if not lo < hi]
            if empty:
                raise ValueError(f"{who}: bands {empty} lie above the Nyquist frequency {nyq:g} Hz of the "
                                 "signal; lower them or use a faster stream")
            try:
                self.sos = [design_finite("bandpass", sfreq, lo, hi, p.order, None, 1, "butter") for lo, hi in bands]
            except ValueError as exc:
                raise no_filter(who, "bandpass", sfreq, exc) from None
            self.zi = [np.zeros((n_channels, s.shape[0], 2)) for s in self.sos]
            self.w = Windower(window, step)
        self.window, self.step, self.next_start, self.first = window, step, first_sample, first_sample

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = as_signal(x, "bandpower")
        if x.shape[0] != self.n_ch:
            raise ValueError(f"bandpower: {x.shape[0]} channels for a state made for {self.n_ch}")
        starts, powers = [], []
        if self.params.method == "hilbert":
            y = np.concatenate([sosfilt_chunk(s, x, z)[0] for s, z in zip(self.sos, self.zi)])
            for start, win in self.w.push(y, self.first):
                env = np.abs(scipy.signal.hilbert(win.astype(np.float64), axis=-1)) ** 2
                starts.append(start)
                powers.append(env.mean(axis=-1).reshape(len(self.sos), self.n_ch).T)
        elif not self.per_segment:
            for start, win in self.w.push(x, self.first, copy=False):  # reduced at once
                starts.append(start)
                powers.append(self.welch(win))
        else:
            for start, seg in self.w.push(x, self.first, copy=False):  # reduced at once
                self.seg_power[start] = self.welch(seg)
            end = self.w.buf_start + self.w.n  # samples numbered as the windows are
            while self.next_start + self.window <= end:
                s0 = self.next_start
                starts.append(s0)
                powers.append(np.mean([self.seg_power[s0 + j * self.seg_step] for j in range(self.n_seg)], axis=0))
                self.next_start += self.step
                for k in [k for k in self.seg_power if k < self.next_start]:
                    del self.seg_power[k]
        power = np.array(powers).reshape(len(powers), self.n_ch, len(self.params.bands))
        if self.params.log:
            power = np.log10(power)
        return np.array(starts, np.int64), power.astype(np.float32)


def bandpower(x: np.ndarray, *, sfreq: float, bands: dict[str, tuple[float, float]] | None = None,
              method: str = "welch", window_ms: float = 1000.0, step_ms: float = 250.0, segment_ms: float = 500.0,
              order: int = 4, log: bool = False) -> np.ndarray:
    """Power per frequency band and channel over sliding windows of a whole signal (what
    `signal.bandpower` sends): windows of `window_ms` every `step_ms` from the first sample.

    - "welch": Welch's method on each window (Hann segments of `segment_ms`, half overlap,
      constant detrend), the band mean of the density (V²/Hz): scipy.signal.welch's numbers;
    - "hilbert": each band filtered causally (Butterworth band-pass of `order` over the
      whole signal), then the mean squared Hilbert envelope of the window (V²).

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal (V).
    sfreq : float
        Its sampling rate (Hz).
    bands : dict of name -> (low Hz, high Hz)
        The bands (default mu 8-13 Hz, beta 13-30 Hz), in the order of the output.
    method : {"welch", "hilbert"}
        Spectral estimate.
    window_ms, step_ms : float
        Window length and time between windows (ms).
    segment_ms : float
        Welch segment length (ms).
    order : int
        Hilbert band-pass order.
    log : bool
        log10 of the power.

    Returns
    -------
    ndarray, float32, (windows, channels, bands)
        Window k starts at sample k x step.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2000) / 200.0
    >>> x = np.vstack([np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 20 * t)])
    >>> p = bandpower(x, sfreq=200.0, bands={"alpha": (8, 12), "beta": (18, 22)})
    >>> p.shape, p[0].argmax(axis=1).tolist()
    ((37, 2, 2), [0, 1])
    """
    x = as_signal(x, "bandpower")
    state = BandPowerState(sfreq=sfreq, n_channels=x.shape[0], bands=bands, method=method, window_ms=window_ms,
                           step_ms=step_ms, segment_ms=segment_ms, order=order, log=log)
    return state(x)[1]


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
        self.state: BandPowerState | None = None
        self.key = None

    @property
    def per_segment(self) -> bool:
        """Whether each Welch segment is transformed once, as soon as it is complete."""
        return bool(getattr(self.state, "per_segment", False))

    def warm_up(self) -> None:
        x = np.zeros((1, 4), np.float32)
        x.setflags(write=False)
        sosfilt_chunk(np.zeros((1, 6)), x, np.zeros((1, 1, 2)))
        welch = WelchBands({"b": (0.0, 1.0)}, 8.0, 8, 1000.0)
        welch(np.zeros((1, 8), np.float32))
        welch(np.zeros((1, 16), np.float32)[:, :8])  # windows are views of the buffer

    def receive(self, port: str, msg: Message) -> list[Message]:
        sfreq = require_samples(msg, "signal.bandpower")
        n_ch, first = msg.data.shape[0], first_sample(msg, "signal.bandpower", sfreq)
        if self.key != (sfreq, n_ch):
            try:  # Rejected, nothing changed, when the parameters do not fit this stream
                state = BandPowerState(sfreq=sfreq, n_channels=n_ch, first_sample=first, who="signal.bandpower",
                                       **self.params.model_dump())
            except ValueError as exc:
                raise Rejected(str(exc)) from None
            if self.key is not None:
                self.count("restarted")
            self.state, self.key = state, (sfreq, n_ch)
        p = self.params
        starts, power = self.state(msg.data)
        return [streams.frames(pw[None], bin_us=p.step_ms * 1e3, t_first_us=int(start * 1e6 / sfreq),
                               t_origin=msg.t_origin, first_sample=int(start), bands=list(p.bands),
                               ch_names=msg.meta["ch_names"], method=p.method)
                for start, pw in zip(starts, power)]
