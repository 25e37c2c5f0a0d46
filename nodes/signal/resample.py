"""`signal.resample`: polyphase resampling that streams like scipy.signal.resample_poly."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import scipy.signal
from numba import njit
from pydantic import Field, model_validator

from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import SAMPLES, Message

from .checks import as_signal, require_samples, t_first_s

# Largest up or down factor: the filter has 20 x max(up, down) taps.
MAX_FACTOR = 1000


@njit(cache=True, nogil=True)
def polyphase(h: np.ndarray, x: np.ndarray, x_start: int, m0: int, m1: int, up: int, down: int) -> np.ndarray:
    """Outputs m0..m1-1 of upfirdn(h, x, up, down) from the inputs held in x, which are
    samples x_start.. of the stream; inputs outside x count as zero."""
    n_ch, n = x.shape
    y = np.zeros((n_ch, m1 - m0))
    for k in range(m1 - m0):
        pos = (m0 + k) * down
        j = pos % up
        while j < h.size:
            i = (pos - j) // up - x_start
            if i < 0:
                break
            if i < n:
                for c in range(n_ch):
                    y[c, k] += h[j] * x[c, i]
            j += up
    return y


def design(up: int, down: int) -> tuple[np.ndarray, int]:
    """The filter of resample_poly (Kaiser window, beta 5) with its padding, and how many
    leading outputs it drops: the same numbers as SciPy uses."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = scipy.signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    n_pre_pad = down - half_len % down
    h = np.concatenate([np.zeros(n_pre_pad), h])
    return h, (half_len + n_pre_pad) // down


class ResampleState:
    """`resample` chunk by chunk: each call returns the outputs whose inputs have all
    arrived (about 10 x max(up, down) input samples later), `flush()` the rest at the end;
    all of them together equal one `resample` call. `n_out` counts the outputs returned,
    `up`, `down` and `sfreq_out` are the factors and rate reached."""

    def __init__(self, *, sfreq: float, sfreq_hz: float | None = None, up: int = 1, down: int = 1) -> None:
        p = Resample.Params(sfreq_hz=sfreq_hz, up=up, down=down)
        if p.sfreq_hz:
            ratio = Fraction(p.sfreq_hz / sfreq).limit_denominator(MAX_FACTOR)
            up, down = ratio.numerator, ratio.denominator
        else:
            g = math.gcd(p.up, p.down)
            up, down = p.up // g, p.down // g
        if not 0 < up <= MAX_FACTOR or down > MAX_FACTOR:
            target = p.sfreq_hz or sfreq * up / down
            raise ValueError(f"{sfreq:g} Hz to {target:g} Hz needs up/down factors {up}/{down}, "
                             f"beyond 1..{MAX_FACTOR}; resample in steps")
        # the signal is at the target rate already: a one-tap filter passes it through
        h, skip = design(up, down) if up != down else (np.ones(1), 0)
        self.up, self.down, self.h, self.skip = up, down, h, skip
        self.sfreq_out = sfreq * up / down
        self.buf: np.ndarray | None = None
        self.buf_start = 0
        self.n_in = 0
        self.m_next = skip

    @property
    def n_out(self) -> int:
        return self.m_next - self.skip

    def _emit(self, m1: int) -> np.ndarray:
        if m1 <= self.m_next:
            return np.zeros((self.buf.shape[0], 0), np.float32)
        y = polyphase(self.h, self.buf, self.buf_start, self.m_next, m1, self.up, self.down)
        self.m_next = m1
        # Drop inputs no later output needs.
        keep_from = max(self.buf_start, (self.m_next * self.down - self.h.size) // self.up)
        if keep_from > self.buf_start:
            self.buf = self.buf[:, keep_from - self.buf_start:]
            self.buf_start = keep_from
        return y.astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = as_signal(x, "resample")
        if self.buf is None:
            self.buf = np.zeros((x.shape[0], 0))
        elif x.shape[0] != self.buf.shape[0]:
            raise ValueError(f"resample: {x.shape[0]} channels after {self.buf.shape[0]}; one state resamples "
                             "one signal (make a new ResampleState)")
        self.buf = np.concatenate([self.buf, x.astype(np.float64)], axis=1)
        self.n_in += x.shape[1]
        # Output m is complete once input index floor(m * down / up) has arrived.
        return self._emit(-(-self.n_in * self.up // self.down))  # first m whose newest input is not here yet

    def flush(self) -> np.ndarray:
        """The outputs still held, once the signal has ended (zero padding after it)."""
        if self.buf is None:
            return np.zeros((0, 0), np.float32)
        return self._emit(self.skip - (-self.n_in * self.up // self.down))


def resample(x: np.ndarray, *, sfreq: float, sfreq_hz: float | None = None, up: int = 1,
             down: int = 1) -> np.ndarray:
    """Polyphase resampling of a whole signal (what `signal.resample` sends, flushed at
    the end): equal to scipy.signal.resample_poly(x, up, down, axis=1) with its default
    Kaiser window and zero padding.

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal.
    sfreq : float
        Its sampling rate (Hz).
    sfreq_hz : float or None
        Target rate (Hz); sets up/down (as a fraction with terms up to 1000).
    up, down : int
        Upsampling and downsampling factors, when sfreq_hz is not given.

    Returns
    -------
    ndarray, float32, (channels, ceil(samples * up / down))
        The resampled signal (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((2, 1000))
    >>> resample(x, sfreq=1000.0, sfreq_hz=250.0).shape
    (2, 250)
    """
    state = ResampleState(sfreq=sfreq, sfreq_hz=sfreq_hz, up=up, down=down)
    return np.concatenate([state(x), state.flush()], axis=1)


class Resample(Transform):
    """Changes the sampling rate by up/down with a polyphase FIR filter. The stream's
    output, once flushed at its end, equals scipy.signal.resample_poly(x, up, down) over the
    whole signal (default window and zero padding); each output sample leaves as soon as
    the inputs it needs have arrived (a delay of about 10 x max(up, down) input samples)."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES)}

    class Params(Params):
        sfreq_hz: float | None = Field(None, gt=0, description="target rate (sets up/down)")
        up: int = Field(1, ge=1, description="upsampling factor")
        down: int = Field(1, ge=1, description="downsampling factor")

        @model_validator(mode="after")
        def _one(self):
            if self.sfreq_hz is None and self.up == self.down:
                raise ValueError("give sfreq_hz, or up and down that differ")
            return self

    def warm_up(self) -> None:
        polyphase(np.ones(3), np.zeros((1, 4)), 0, 0, 2, 1, 2)

    def start(self) -> None:
        self.state: ResampleState | None = None

    def _message(self, y: np.ndarray, first: int, t_origin: float) -> Message | None:
        if not y.shape[1]:
            return None
        s = self.state
        meta = {k: v for k, v in self.meta.items() if k not in ("sfreq", "first_sample", "t_first_s")}
        return Message(SAMPLES, y, {**meta, "sfreq": s.sfreq_out, "first_sample": first,
                                    "t_first_s": self.t0 + first / s.sfreq_out}, t_origin)

    def receive(self, port: str, msg: Message) -> Message | None:
        if self.state is None:
            sfreq = require_samples(msg, "signal.resample")
            t0 = t_first_s(msg, "signal.resample")
            p = self.params
            try:
                self.state = ResampleState(sfreq=sfreq, sfreq_hz=p.sfreq_hz, up=p.up, down=p.down)
            except ValueError as exc:
                raise Rejected(f"signal.resample: {exc}") from None
            # Device time of the first input sample: output sample m is m / sfreq_out after it.
            self.t0, self.meta, self.n_ch = t0, msg.meta, msg.data.shape[0]
        elif msg.data.shape[0] != self.n_ch or msg.meta.get("sfreq") != self.meta["sfreq"]:
            raise Rejected(f"signal.resample: the stream changed from {self.n_ch} channels at "
                           f"{self.meta['sfreq']} Hz to {msg.data.shape[0]} at {msg.meta.get('sfreq')} Hz; "
                           "one resampler serves one stream")
        self.t_origin = msg.t_origin
        first = self.state.n_out
        return self._message(self.state(msg.data), first, msg.t_origin)

    def finish(self) -> Message | None:
        if self.state is None:
            return None
        first = self.state.n_out
        return self._message(self.state.flush(), first, self.t_origin)
