"""`signal.filter`: causal IIR filtering that streams exactly like filtering the whole signal."""
from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.signal
from pydantic import Field, model_validator

from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import SAMPLES, Message

from .checks import require_samples
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


def design_for(node: str, kind: str, sfreq: float, *args) -> np.ndarray:
    """`design` for a stream's sampling rate: Rejected when the filter cannot be made at it."""
    try:
        sos = design(kind, sfreq, *args)
    except ValueError as exc:
        raise Rejected(f"{node}: no {kind} filter at the stream's {sfreq:g} Hz: {exc}; "
                       "change the cut-offs or resample the stream") from None
    if not np.all(np.isfinite(sos)):
        raise Rejected(f"{node}: the {kind} filter at the stream's {sfreq:g} Hz is not finite; "
                       "change the cut-offs or resample the stream")
    return sos


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
        self.sos = None
        self.zi = None
        self.key = None

    def receive(self, port: str, msg: Message) -> Message:
        sfreq, n_ch = require_samples(msg, "signal.filter"), msg.data.shape[0]
        if (sfreq, n_ch) != self.key:
            p = self.params
            sos = design_for("signal.filter", p.kind, sfreq, p.l_freq_hz, p.h_freq_hz, p.order, p.notch_hz,
                             p.quality, p.ftype)
            if self.key is not None:
                self.count("restarted")  # the stream changed: a new filter from rest
            self.sos, self.zi, self.key = sos, np.zeros((n_ch, sos.shape[0], 2)), (sfreq, n_ch)
        x = np.ascontiguousarray(msg.data, dtype=np.float32)
        y, n_bad = sosfilt_chunk(self.sos, x, self.zi)
        if n_bad:
            self.count("nonfinite_samples", n_bad)
        return msg.with_data(y)
