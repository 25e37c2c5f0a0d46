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

from .checks import require_samples, t_first

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
        self.state = None

    def _init(self, msg: Message) -> None:
        sfreq = require_samples(msg, "signal.resample")
        t0 = t_first(msg, "signal.resample")
        if self.params.sfreq_hz:
            ratio = Fraction(self.params.sfreq_hz / sfreq).limit_denominator(MAX_FACTOR)
            up, down = ratio.numerator, ratio.denominator
        else:
            g = math.gcd(self.params.up, self.params.down)
            up, down = self.params.up // g, self.params.down // g
        if not 0 < up <= MAX_FACTOR or down > MAX_FACTOR:
            target = self.params.sfreq_hz or sfreq * up / down
            raise Rejected(f"signal.resample: {sfreq:g} Hz to {target:g} Hz needs up/down factors {up}/{down}, "
                           f"beyond 1..{MAX_FACTOR}; resample in steps")
        # the stream is at the target rate already: a one-tap filter passes it through
        h, skip = design(up, down) if up != down else (np.ones(1), 0)
        # Device time of the first input sample: output sample m is m / sfreq_out after it.
        self.t0 = t0
        self.up, self.down, self.h, self.skip = up, down, h, skip
        self.sfreq_out = sfreq * up / down
        self.buf = np.zeros((msg.data.shape[0], 0))
        self.buf_start = 0
        self.n_in = 0
        self.m_next = skip
        self.meta = msg.meta
        self.t_origin = msg.t_origin
        self.state = True

    def _emit(self, m1: int) -> Message | None:
        if m1 <= self.m_next:
            return None
        y = polyphase(self.h, self.buf, self.buf_start, self.m_next, m1, self.up, self.down)
        first = self.m_next - self.skip
        self.m_next = m1
        # Drop inputs no later output needs.
        keep_from = max(self.buf_start, (self.m_next * self.down - self.h.size) // self.up)
        if keep_from > self.buf_start:
            self.buf = self.buf[:, keep_from - self.buf_start:]
            self.buf_start = keep_from
        meta = {k: v for k, v in self.meta.items() if k not in ("sfreq", "first_sample", "t_first")}
        out = Message(SAMPLES, y.astype(np.float32), {**meta, "sfreq": self.sfreq_out, "first_sample": first,
                                                      "t_first": self.t0 + first / self.sfreq_out}, self.t_origin)
        return out

    def receive(self, port: str, msg: Message) -> Message | None:
        if self.state is None:
            self._init(msg)
        elif msg.data.shape[0] != self.buf.shape[0] or msg.meta.get("sfreq") != self.meta["sfreq"]:
            raise Rejected(f"signal.resample: the stream changed from {self.buf.shape[0]} channels at "
                           f"{self.meta['sfreq']} Hz to {msg.data.shape[0]} at {msg.meta.get('sfreq')} Hz; "
                           "one resampler serves one stream")
        self.t_origin = msg.t_origin
        self.buf = np.concatenate([self.buf, msg.data.astype(np.float64)], axis=1)
        self.n_in += msg.data.shape[1]
        # Output m is complete once input index floor(m * down / up) has arrived.
        m1 = -(-self.n_in * self.up // self.down)  # first m whose newest input is not here yet
        return self._emit(m1)

    def finish(self) -> Message | None:
        if self.state is None:
            return None
        n_out = -(-self.n_in * self.up // self.down)
        return self._emit(self.skip + n_out)
