"""`signal.encode`: spike encoders that turn signals into SNN input, step by step."""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, field_validator

from streamer import streams
from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import FRAMES, SAMPLES, SPIKES, Message

from .checks import as_signal, first_sample, require_samples

# Steps of silence filled in at once: a larger jump of first_sample (a reset or corrupt
# count) starts the steps again at the new sample.
MAX_GAP_STEPS = 1 << 16
# Delta spikes one sample may make per channel: more (a value far beyond the thresholds)
# is refused rather than counted one by one.
MAX_DELTA_SPIKES = 1 << 16


@njit(cache=True, nogil=True)
def delta_kernel(x: np.ndarray, threshold: np.ndarray, ref: np.ndarray, counts: np.ndarray,
                 first: int, step: int) -> None:
    """Send-on-delta: an 'up' spike each time channel c has risen by threshold[c] since its
    last spike, 'down' when it fell. counts (steps, 2C) gets ups in [:C], downs in [C:];
    sample i of x is stream sample first + i, step k covers samples [k*step, (k+1)*step)
    counted from the first step held in counts."""
    n_ch, n = x.shape
    for c in range(n_ch):
        th = threshold[c]
        r = ref[c]
        for i in range(n):
            k = (first + i) // step
            v = x[c, i]
            while v - r >= th:
                counts[k, c] += 1
                r += th
            while v - r <= -th:
                counts[k, n_ch + c] += 1
                r -= th
        ref[c] = r


@njit(cache=True, nogil=True)
def crossing_kernel(x: np.ndarray, level: np.ndarray, below: np.ndarray, counts: np.ndarray,
                    first: int, step: int) -> None:
    """A spike when channel c falls below level[c] (a negative threshold crossing)."""
    n_ch, n = x.shape
    for c in range(n_ch):
        b = below[c]
        for i in range(n):
            now_below = x[c, i] < level[c]
            if now_below and not b:
                counts[(first + i) // step, c] += 1
            b = now_below
        below[c] = b


class EncodeState:
    """`encode` chunk by chunk for one signal at `sfreq`: calibration, each encoder's state
    and the step being filled carry over from the chunks before (fresh at construction),
    so the steps of all calls equal one `encode` call. `nan_samples` counts the NaN or
    infinite inputs (encoded as 0), `time_jumps` the restarts of the step count. `who`
    begins the error messages."""

    def __init__(self, *, sfreq: float, method: str = "delta", step_ms: float = 20.0,
                 threshold: float | list[float] | str = "auto", auto_k: float = 0.5, k: float = 4.0,
                 calibration_s: float = 2.0, gain: float = 1e5, seed: int = 0, who: str = "encode") -> None:
        self.params = Encode.Params(method=method, step_ms=step_ms, threshold=threshold, auto_k=auto_k, k=k,
                                    calibration_s=calibration_s, gain=gain, seed=seed)
        self.sfreq, self.who = float(sfreq), who
        self.step = max(1, int(round(self.params.step_ms * 1e-3 * sfreq)))
        # Automatic levels come from exactly the first calibration_s of signal, whatever the chunking.
        self.n_calib = max(1, math.ceil(self.params.calibration_s * sfreq))
        self.calib: list[tuple[int, np.ndarray]] = []
        self.ready = False
        self.counts: np.ndarray | None = None
        self.first_step = 0     # step index of counts[0]
        self.rng = np.random.default_rng(self.params.seed)
        self.n_out = 0
        self.nan_samples = 0
        self.time_jumps = 0

    def _calibrate(self, x: np.ndarray) -> None:
        p = self.params
        n_ch = x.shape[0]
        if p.method == "delta":
            if p.threshold == "auto":
                th = p.auto_k * x[:, :self.n_calib].astype(np.float64).std(axis=1)
            elif np.size(p.threshold) not in (1, n_ch):
                raise ValueError(f"{self.who}: {np.size(p.threshold)} thresholds for {n_ch} channels; give one "
                                 "per channel or a single one")
            else:
                th = np.broadcast_to(np.asarray(p.threshold, np.float64), (n_ch,)).copy()
            if not np.all(th > 0) or not np.all(np.isfinite(th)):
                raise ValueError(f"{self.who}: delta thresholds must be finite and > 0 (flat channels?): "
                                 f"{th.tolist()}; calibration starts again")
            self.level = th
            self.state = x[:, 0].astype(np.float64).copy()
            self.n_out = 2 * n_ch
        elif p.method == "crossing":
            c = x[:, :self.n_calib]
            med = np.median(c, axis=1, keepdims=True)
            sigma = np.median(np.abs(c - med), axis=1) / 0.6745
            self.level = -p.k * sigma
            self.state = np.zeros(n_ch, np.bool_)
            self.n_out = n_ch
        else:
            self.n_out = n_ch
        self.ready = True

    def __call__(self, x: np.ndarray, first_sample: int = 0) -> tuple[np.ndarray, int]:
        """(counts (steps, outputs), index of their first step) of the steps the chunk x,
        whose first sample is `first_sample` of the signal, completes."""
        p = self.params
        x = as_signal(x, self.who)
        first, step = first_sample, self.step
        if not np.all(np.isfinite(x)):
            self.nan_samples += int((~np.isfinite(x)).sum())
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        if not self.ready:
            self.calib.append((first, x))
            held = sum(c.shape[1] for _, c in self.calib)
            if held == 0 or held < self.n_calib and not (p.method == "delta" and p.threshold != "auto") \
                    and p.method != "rate":
                return np.zeros((0, (2 if p.method == "delta" else 1) * x.shape[0]), np.float32), self.first_step
            first = self.calib[0][0]
            x = np.concatenate([c for _, c in self.calib], axis=1)
            self.calib = []
            self._calibrate(x)
            self.first_step = first // step
            self.counts = np.zeros((0, self.n_out), np.float32)
        if p.method == "delta" and x.size and \
                max(np.abs(x).max(), np.abs(self.state).max()) > self.level.min() * MAX_DELTA_SPIKES / 2:
            raise ValueError(f"{self.who}: samples up to {np.abs(x).max():g} would make more than "
                             f"{MAX_DELTA_SPIKES} delta spikes each at threshold {self.level.min():g}; "
                             "scale the signal or raise the threshold")
        last = first + x.shape[1]
        n_steps = -(-last // step) - self.first_step
        if first < self.first_step * step or n_steps > len(self.counts) + MAX_GAP_STEPS:
            # first_sample went back or jumped far ahead: count steps again from here
            self.time_jumps += 1
            self.first_step = first // step
            self.counts = np.zeros((0, self.n_out), np.float32)
            n_steps = -(-last // step) - self.first_step
        if n_steps > len(self.counts):
            grown = np.zeros((n_steps, self.n_out), np.float32)
            grown[:len(self.counts)] = self.counts
            self.counts = grown
        rel = first - self.first_step * step
        xs = np.ascontiguousarray(x, dtype=np.float64)
        if p.method == "delta":
            delta_kernel(xs, self.level, self.state, self.counts, rel, step)
        elif p.method == "crossing":
            crossing_kernel(xs, self.level, self.state, self.counts, rel, step)
        else:
            # Drawn sample by sample (all channels of a sample together), so the same
            # spikes come out however the signal is chunked.
            spikes = self.rng.random((x.shape[1], x.shape[0])).T < np.abs(xs) * p.gain
            idx = (rel + np.nonzero(spikes)[1]) // step
            np.add.at(self.counts, (idx, np.nonzero(spikes)[0]), 1)
        first_step = self.first_step
        done = max(0, last // step - self.first_step)  # steps whose samples have all arrived
        out = self.counts[:done]
        self.counts = self.counts[done:].copy()
        self.first_step += done
        return out, first_step


def encode(x: np.ndarray, *, sfreq: float, method: str = "delta", step_ms: float = 20.0,
           threshold: float | list[float] | str = "auto", auto_k: float = 0.5, k: float = 4.0,
           calibration_s: float = 2.0, gain: float = 1e5, seed: int = 0) -> np.ndarray:
    """Spike counts per SNN step of a whole signal (what `signal.encode` sends, its
    messages together), steps of `step_ms` from the first sample:

    - "delta": send-on-delta, up spikes in the first C outputs and down spikes in the next
      C, at `threshold` (one number, one per channel, or "auto": `auto_k` x each channel's
      standard deviation over the first `calibration_s`);
    - "crossing": a spike when a channel falls below -k x its MAD-estimated standard
      deviation over the first `calibration_s` (C outputs);
    - "rate": Poisson spikes with probability |x| x `gain` per sample, seeded (C outputs).
    NaN or infinite samples are encoded as 0.

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal (its units for threshold and gain).
    sfreq : float
        Sampling rate (Hz).
    method : {"delta", "crossing", "rate"}
        The encoder.
    step_ms : float
        One SNN step (ms), rounded to whole samples.
    threshold : float, list of float or "auto"
        Delta threshold (signal units).
    auto_k : float
        Delta: threshold = auto_k x std over the calibration.
    k : float
        Crossing: level = -k x MAD-estimated std.
    calibration_s : float
        Signal used to set automatic levels (s); nothing comes out of a shorter signal.
    gain : float
        Rate: spike probability per unit of |x|.
    seed : int
        Rate: random seed.

    Returns
    -------
    ndarray, float32, (steps, outputs)
        Spike counts of each complete step.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0, 2.0, 3.0, 2.0, 1.0]])
    >>> encode(x, sfreq=1000.0, threshold=1.0, step_ms=3).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    state = EncodeState(sfreq=sfreq, method=method, step_ms=step_ms, threshold=threshold, auto_k=auto_k, k=k,
                        calibration_s=calibration_s, gain=gain, seed=seed)
    return state(x)[0]


class Encode(Transform):
    """Spike encoders for the SNN, counted per step of `step_ms` into Frames (steps, channels'):

    - `delta`: send-on-delta with up and down channels (2C outputs) at `threshold` (a
      number, one per channel, or `auto`: `auto_k` x the channel's standard deviation over
      the first `calibration_s`);
    - `crossing`: a spike when a channel crosses below -k x MAD (median absolute deviation
      over the first `calibration_s`, scaled to a standard deviation), for spikes in
      intracranial signals (C outputs);
    - `rate`: Poisson spikes with probability |x| x `gain` per sample (C outputs), seeded.
    Steps are counted from the stream's first sample; bin_us and t_first_us follow the
    device clock, so trial markers line up with them. With `output: spikes` the same
    counts leave as Spikes (steps, channels') of layer `input`, meta `step` the index of
    the first step and `dt_s` the step length."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(FRAMES)}

    class Params(Params):
        method: Literal["delta", "crossing", "rate"] = Field("delta", description="encoder")
        step_ms: float = Field(20.0, gt=0, description="one SNN step")
        threshold: float | list[float] | Literal["auto"] = Field("auto", description="delta threshold (signal units)")
        auto_k: float = Field(0.5, gt=0, description="delta: threshold = auto_k x std over the calibration")
        k: float = Field(4.0, gt=0, description="crossing: level = -k x MAD-estimated std")
        calibration_s: float = Field(2.0, gt=0, description="signal used to set automatic levels")
        gain: float = Field(1e5, gt=0, description="rate: spike probability per unit of |x|")
        seed: int = Field(0, description="rate: random seed")
        output: Literal["frames", "spikes"] = Field("frames", description="stream type of the counts")

        @field_validator("threshold")
        @classmethod
        def _positive(cls, v: float | list[float] | str) -> float | list[float] | str:
            values = v if isinstance(v, list) else [] if v == "auto" else [v]
            if v == [] or any(not x > 0 for x in values):
                raise ValueError(f"delta thresholds must be > 0 (one number, one per channel, or auto), got {v}")
            return v

    @classmethod
    def ports(cls, params: Params) -> tuple[dict[str, Port], dict[str, Port]]:
        return dict(cls.inputs), {"out": Port(SPIKES if params.output == "spikes" else FRAMES)}

    def start(self) -> None:
        self.state: EncodeState | None = None
        self.key = None         # (sfreq, channels) of the stream encoded

    def warm_up(self) -> None:
        x = np.zeros((1, 4), np.float32)
        delta_kernel(x, np.ones(1), np.zeros(1), np.zeros((2, 2), np.float32), 0, 2)
        crossing_kernel(x, np.ones(1), np.zeros(1, np.bool_), np.zeros((2, 1), np.float32), 0, 2)

    def receive(self, port: str, msg: Message) -> list[Message] | None:
        p = self.params
        sfreq = require_samples(msg, "signal.encode")
        first = first_sample(msg, "signal.encode", sfreq)
        if self.key != (sfreq, msg.data.shape[0]):
            if self.key is not None:
                self.count("restarted")  # another stream: calibrate again
            params = p.model_dump(exclude={"output"})
            self.state, self.key = EncodeState(sfreq=sfreq, who="signal.encode", **params), (sfreq, msg.data.shape[0])
        state = self.state
        nan, jumps = state.nan_samples, state.time_jumps
        try:
            out, first_step = state(msg.data, first)
        except ValueError as exc:
            raise Rejected(str(exc)) from None
        finally:
            if state.nan_samples > nan:
                self.count("nan_samples", state.nan_samples - nan)
            if state.time_jumps > jumps:
                self.count("time_jumps", state.time_jumps - jumps)
        if not len(out):
            return None
        step = state.step
        t_first_us = int(round(first_step * step / sfreq * 1e6))
        if p.output == "spikes":
            return [streams.spikes(out, layer="input", step=first_step, dt_s=step / sfreq, t_origin=msg.t_origin,
                                   t_first_us=t_first_us, encoder=p.method, ch_names=self._names(msg.meta))]
        return [streams.frames(out, bin_us=step / sfreq * 1e6, t_first_us=t_first_us, t_origin=msg.t_origin,
                               encoder=p.method, step_samples=step, ch_names=self._names(msg.meta))]

    def _names(self, meta: dict) -> list[str]:
        """One name per output: channel+ and channel- for the up and down spikes of delta."""
        names = list(meta["ch_names"])
        if self.params.method == "delta":
            return [f"{n}+" for n in names] + [f"{n}-" for n in names]
        return names
