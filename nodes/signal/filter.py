"""`signal.filter`: causal IIR filtering that streams exactly like filtering the whole signal."""
from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.signal
from pydantic import Field, model_validator

from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import SAMPLES, Message

from .checks import as_signal, require_samples
from .sos_kernel import sosfilt_chunk


RIPPLE_DB = 1.0
ATTENUATION_DB = 40.0


def design(kind: str, sfreq: float, l_freq_hz: float | None, h_freq_hz: float | None, order: int,
           notch_hz: float | None, quality: float, ftype: str) -> np.ndarray:
    """Second-order sections for a band-pass, high-pass, low-pass or notch filter."""
    nyq = sfreq / 2
    if kind == "notch":
        if notch_hz is None or not 0 < notch_hz < nyq:
            raise ValueError(f"notch_hz must be between 0 and {nyq} Hz (Nyquist), got {notch_hz}")
        b, a = scipy.signal.iirnotch(notch_hz, quality, fs=sfreq)
        return scipy.signal.tf2sos(b, a)
    edges = {"bandpass": [l_freq_hz, h_freq_hz], "highpass": l_freq_hz, "lowpass": h_freq_hz}[kind]
    for f in np.atleast_1d(edges):
        if f is None or not 0 < f < nyq:
            raise ValueError(f"{kind} cut-off {f} Hz must be between 0 and {nyq} Hz (Nyquist of {sfreq} Hz)")
    # Ripple and attenuation used by the Chebyshev and elliptic designs.
    return scipy.signal.iirfilter(order, edges, btype=kind, ftype=ftype, fs=sfreq, output="sos",
                                  rp=RIPPLE_DB, rs=ATTENUATION_DB)


def design_finite(kind: str, sfreq: float, *args) -> np.ndarray:
    """`design`, refusing (ValueError) a filter whose sections are not finite."""
    sos = design(kind, sfreq, *args)
    if not np.all(np.isfinite(sos)):
        raise ValueError("its sections are not finite")
    return sos


def no_filter(node: str, kind: str, sfreq: float, exc: ValueError) -> Rejected:
    """The refusal of a stream whose sampling rate the filter cannot be made at."""
    return Rejected(f"{node}: no {kind} filter at the stream's {sfreq:g} Hz: {exc}; "
                    "change the cut-offs or resample the stream")


def design_for(node: str, kind: str, sfreq: float, *args) -> np.ndarray:
    """`design` for a stream's sampling rate: Rejected when the filter cannot be made at it."""
    try:
        return design_finite(kind, sfreq, *args)
    except ValueError as exc:
        raise no_filter(node, kind, sfreq, exc) from None


class FilterState:
    """`filter_data` chunk by chunk: the sections' state (float64) carries over from the
    chunks before (at rest at construction), so the output equals one call over the
    whole signal. `nonfinite_samples` counts the NaN or infinite inputs seen."""

    def __init__(self, *, sfreq: float, kind: str = "bandpass", l_freq_hz: float | None = 1.0,
                 h_freq_hz: float | None = 40.0, order: int = 4, ftype: str = "butter",
                 notch_hz: float | None = None, quality: float = 30.0) -> None:
        p = Filter.Params(kind=kind, l_freq_hz=l_freq_hz, h_freq_hz=h_freq_hz, order=order, ftype=ftype,
                          notch_hz=notch_hz, quality=quality)
        self.sfreq = float(sfreq)
        self.sos = design_finite(p.kind, self.sfreq, p.l_freq_hz, p.h_freq_hz, p.order, p.notch_hz, p.quality,
                                 p.ftype)
        self.zi: np.ndarray | None = None
        self.nonfinite_samples = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = as_signal(x, "filter_data")
        if self.zi is None:
            self.zi = np.zeros((x.shape[0], self.sos.shape[0], 2))
        elif x.shape[0] != self.zi.shape[0]:
            raise ValueError(f"filter_data: {x.shape[0]} channels after {self.zi.shape[0]}; one state "
                             "filters one signal (make a new FilterState)")
        y, n_bad = sosfilt_chunk(self.sos, x, self.zi)
        self.nonfinite_samples += n_bad
        return y


def filter_data(x: np.ndarray, *, sfreq: float, kind: str = "bandpass", l_freq_hz: float | None = 1.0,
                h_freq_hz: float | None = 40.0, order: int = 4, ftype: str = "butter",
                notch_hz: float | None = None, quality: float = 30.0) -> np.ndarray:
    """Causal IIR filtering of a whole signal (what `signal.filter` does): band-pass,
    high-pass, low-pass or notch, as second-order sections from rest; equal to
    scipy.signal.sosfilt with the same design. A NaN or infinite sample comes out as NaN
    and enters the filter as 0.

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal (computed in float64, returned as float32).
    sfreq : float
        Sampling rate (Hz).
    kind : {"bandpass", "highpass", "lowpass", "notch"}
        Filter type.
    l_freq_hz, h_freq_hz : float or None
        Lower cut-off (bandpass, highpass), upper cut-off (bandpass, lowpass) (Hz).
    order : int
        IIR order (per edge).
    ftype : {"butter", "cheby1", "cheby2", "ellip", "bessel"}
        Design (1 dB ripple, 40 dB attenuation for Chebyshev and elliptic).
    notch_hz : float or None
        Notch frequency (Hz; notch).
    quality : float
        Notch quality factor.

    Returns
    -------
    ndarray, float32, (channels, samples)
        The filtered signal (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1000) / 250.0
    >>> x = np.vstack([np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 60 * t)])
    >>> y = filter_data(x, sfreq=250.0, kind="lowpass", h_freq_hz=30.0)
    >>> y.shape, bool(np.abs(y[0, 500:]).max() < 1.1)
    ((1, 1000), True)
    """
    return FilterState(sfreq=sfreq, kind=kind, l_freq_hz=l_freq_hz, h_freq_hz=h_freq_hz, order=order,
                       ftype=ftype, notch_hz=notch_hz, quality=quality)(x)


class Filter(Transform):
    """Band-pass, high-pass, low-pass or notch IIR filter, as second-order sections, per
    channel. Streaming output equals scipy.signal.sosfilt over the whole signal (zero
    initial state), whatever the chunk size; the state is float64. A NaN or infinite input
    sample comes out as NaN and is counted (`nonfinite_samples`); it enters the filter
    state as 0, so the samples after it are filtered as if it had been 0."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES)}

    class Params(Params):
        kind: Literal["bandpass", "highpass", "lowpass", "notch"] = Field("bandpass", description="filter type")
        l_freq_hz: float | None = Field(1.0, description="lower cut-off (bandpass, highpass)")
        h_freq_hz: float | None = Field(40.0, description="upper cut-off (bandpass, lowpass)")
        order: int = Field(4, ge=1, le=12, description="IIR order (per edge)")
        ftype: Literal["butter", "cheby1", "cheby2", "ellip", "bessel"] = Field("butter", description="design")
        notch_hz: float | None = Field(None, description="notch frequency (notch)")
        quality: float = Field(30.0, gt=0, description="notch quality factor")

        @model_validator(mode="after")
        def _edges(self):
            # The frequencies each kind needs (checked against Nyquist once the stream's rate is known).
            needed = {"bandpass": ("l_freq_hz", "h_freq_hz"), "highpass": ("l_freq_hz",),
                      "lowpass": ("h_freq_hz",), "notch": ("notch_hz",)}[self.kind]
            for name in needed:
                value = getattr(self, name)
                if value is None or not value > 0:
                    raise ValueError(f"kind {self.kind!r} needs {' and '.join(needed)} > 0 Hz; "
                                     f"set {name} (now {value})")
            if self.kind == "bandpass" and self.l_freq_hz >= self.h_freq_hz:
                raise ValueError(f"l_freq_hz ({self.l_freq_hz}) must be below h_freq_hz ({self.h_freq_hz})")
            return self

    def warm_up(self) -> None:
        x = np.zeros((1, 4), np.float32)  # compile the kernel now, not on the first live chunk
        x.setflags(write=False)
        sosfilt_chunk(np.zeros((1, 6)), x, np.zeros((1, 1, 2)))

    def start(self) -> None:
        self.state: FilterState | None = None
        self.key = None

    def receive(self, port: str, msg: Message) -> Message:
        sfreq, n_ch = require_samples(msg, "signal.filter"), msg.data.shape[0]
        if (sfreq, n_ch) != self.key:
            p = self.params
            try:
                state = FilterState(sfreq=sfreq, **p.model_dump())
            except ValueError as exc:
                raise no_filter("signal.filter", p.kind, sfreq, exc) from None
            if self.key is not None:
                self.count("restarted")  # the stream changed: a new filter from rest
            self.state, self.key = state, (sfreq, n_ch)
        before = self.state.nonfinite_samples
        y = self.state(msg.data)
        if self.state.nonfinite_samples > before:
            self.count("nonfinite_samples", self.state.nonfinite_samples - before)
        return msg.with_data(y)
