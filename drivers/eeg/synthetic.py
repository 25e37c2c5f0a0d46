"""`eeg.synthetic`: EEG that needs nothing, with motor imagery and SSVEP on cue.

Each channel is pink (1/f) background noise plus rhythms: posterior alpha, a mu (10 Hz)
and beta (21 Hz) rhythm over the sensorimotor cortex. Imagining a hand movement
desynchronises mu/beta over the opposite hemisphere (left hand: C4, right hand: C3), so
during a `left` trial the C4 rhythms drop to `erd` of their amplitude; `rest` changes
nothing; an `ssvep_<f>` class adds a steady response at f Hz (and its harmonic) over the
occipital channels. Trials follow a seeded random schedule and each starts with a Marker
(the cue). Output in volts; the same seed gives the same signal whatever the chunking.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal
from pydantic import Field, field_validator

from streamer import streams
from streamer.clock import Pacer
from streamer.node import EndOfStream, Params, Port, Source
from streamer.streams import MARKER, SAMPLES

SFREQ = 250.0
CLASSES = ["left", "right"]
CHANNELS = ["Fp1", "Fp2", "F3", "Fz", "F4", "T7", "C3", "Cz", "C4", "T8", "P3", "Pz", "P4", "O1", "Oz", "O2"]
POSTERIOR = ["P3", "Pz", "P4", "O1", "Oz", "O2"]
OCCIPITAL = ["O1", "Oz", "O2"]
# Where each hand's mu/beta rhythm lives (contralateral), and how strongly neighbours share it.
MOTOR = {"C3": 1.0, "C4": 1.0, "Cz": 0.4}
HAND_SITE = {"left": "C4", "right": "C3"}
# Paul Kellet's economy pink-noise filter (-3 dB/octave above ~20 Hz at 250 Hz, close enough
# for EEG background), as one IIR: b / a.
PINK_B = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
PINK_A = [1, -2.494956002, 2.017265875, -0.522189400]
RAMP_S = 0.3
# Standard deviation of the pink filter's output for unit white noise (measured once).
PINK_STD = float(np.std(scipy.signal.lfilter(PINK_B, PINK_A, np.random.default_rng(0).standard_normal(200_000))[1000:]))


def class_kind(label: str) -> tuple[str, float]:
    if label in ("left", "right", "rest"):
        return label, 0.0
    if label.startswith("ssvep_"):
        return "ssvep", float(label.removeprefix("ssvep_"))
    raise ValueError(f"unknown class {label!r}: use left, right, rest or ssvep_<Hz> (e.g. ssvep_12)")


@dataclass
class Schedule:
    """Trial onsets (samples) and classes: rest gap, trial, rest gap, trial, ..."""

    onsets: np.ndarray
    labels: list[str]
    trial: int
    period: int


class Generator:
    def __init__(self, classes: list[str], sfreq: float, trial_s: float, rest_s: float, n_trials: int,
                 seed: int, noise_uv: float, alpha_uv: float, mu_uv: float, erd: float, ssvep_uv: float) -> None:
        for c in classes:
            class_kind(c)
        self.classes, self.sfreq, self.seed = list(classes), sfreq, seed
        self.noise_v, self.alpha_v, self.mu_v, self.ssvep_v = noise_uv * 1e-6, alpha_uv * 1e-6, mu_uv * 1e-6, ssvep_uv * 1e-6
        self.erd = erd
        self.trial = int(round(trial_s * sfreq))
        self.rest = int(round(rest_s * sfreq))
        self.period = self.trial + self.rest
        self.n_trials = n_trials
        self.block = int(sfreq)  # noise is drawn in 1 s blocks, seeded by block: chunking does not matter
        self.zi = np.zeros((len(CHANNELS), len(PINK_A) - 1))
        self.pink = np.zeros((len(CHANNELS), 0))
        self.pink_start = 0
        idx = {c: i for i, c in enumerate(CHANNELS)}
        self.posterior = np.array([idx[c] for c in POSTERIOR])
        self.occipital = np.array([idx[c] for c in OCCIPITAL])
        self.motor = {c: (idx[c], w) for c, w in MOTOR.items()}
        rng = np.random.default_rng(seed)
        self.phase = rng.uniform(0, 2 * np.pi, (len(CHANNELS), 4))

    def label_of(self, trial: int) -> str:
        rng = np.random.default_rng((self.seed, 7919, trial))
        return self.classes[int(rng.integers(len(self.classes)))]

    def onset(self, trial: int) -> int:
        return self.rest + trial * self.period

    def _noise(self, start: int, stop: int) -> np.ndarray:
        """Pink noise for samples [start, stop); requests move forward in time."""
        while self.pink_start + self.pink.shape[1] < stop:
            b = (self.pink_start + self.pink.shape[1]) // self.block
            white = np.random.default_rng((self.seed, b)).standard_normal((len(CHANNELS), self.block))
            out, self.zi = scipy.signal.lfilter(PINK_B, PINK_A, white, axis=1, zi=self.zi)
            self.pink = np.concatenate([self.pink, out], axis=1)
        drop = start - self.pink_start
        if drop > 0:
            self.pink, self.pink_start = self.pink[:, drop:], start
        return self.pink[:, :stop - start] * (self.noise_v / PINK_STD)

    def envelope(self, t: np.ndarray) -> tuple[dict[str, np.ndarray], dict[float, np.ndarray]]:
        """Per-sample gain of each hand site's rhythm and the amplitude of each SSVEP frequency."""
        gains = {site: np.ones(t.size) for site in HAND_SITE.values()}
        ssvep: dict[float, np.ndarray] = {}
        ramp = max(1, int(RAMP_S * self.sfreq))
        first = max(0, (int(t[0]) - self.rest) // self.period - 1)
        last = (int(t[-1]) - self.rest) // self.period + 1
        for k in range(first, last + 1):
            if k < 0 or (self.n_trials and k >= self.n_trials):
                continue
            on = self.onset(k)
            # smooth window rising over `ramp` after the cue and falling at the end of the trial
            w = np.clip((t - on) / ramp, 0, 1) * np.clip((on + self.trial - t) / ramp, 0, 1)
            if not w.any():
                continue
            kind, freq = class_kind(self.label_of(k))
            if kind in HAND_SITE:
                gains[HAND_SITE[kind]] *= 1 - (1 - self.erd) * w
            elif kind == "ssvep":
                ssvep[freq] = ssvep.get(freq, 0) + w
        return gains, ssvep

    def chunk(self, start: int, n: int) -> np.ndarray:
        t = np.arange(start, start + n, dtype=np.float64)
        s = t / self.sfreq
        x = self._noise(start, start + n).copy()
        # posterior alpha, slowly waxing and waning
        alpha = self.alpha_v * (0.6 + 0.4 * np.sin(2 * np.pi * 0.1 * s))
        x[self.posterior] += alpha * np.sin(2 * np.pi * 10.0 * s + self.phase[self.posterior, :1])
        gains, ssvep = self.envelope(t)
        for site, (i, w) in self.motor.items():
            g = gains.get(site, (gains["C3"] + gains["C4"]) / 2)
            mu = np.sin(2 * np.pi * 10.5 * s + self.phase[i, 1]) + 0.5 * np.sin(2 * np.pi * 21.0 * s + self.phase[i, 2])
            x[i] += w * self.mu_v * g * mu
        for freq, amp in ssvep.items():
            resp = np.sin(2 * np.pi * freq * s) + 0.4 * np.sin(2 * np.pi * 2 * freq * s)
            x[self.occipital] += self.ssvep_v * amp * resp
        return x.astype(np.float32)

    def cues(self, start: int, stop: int) -> list[tuple[int, int, str]]:
        """(trial, onset sample, class) of the cues in [start, stop)."""
        out = []
        k = max(0, math.ceil((start - self.rest) / self.period))
        while self.onset(k) < stop and (not self.n_trials or k < self.n_trials):
            out.append((k, self.onset(k), self.label_of(k)))
            k += 1
        return out

    @property
    def end(self) -> int | None:
        return self.onset(self.n_trials - 1) + self.trial + self.rest if self.n_trials else None


class SyntheticEEG(Source):
    """Synthetic EEG (16 channels of the 10-20 system) with cued motor imagery (mu/beta
    desynchronisation over C4 for `left`, C3 for `right`), `rest`, and SSVEP classes
    (`ssvep_12`: 12 Hz over O1/Oz/O2). Each trial's cue is a Marker (label = class, value =
    class index). Seeded; real time, `speed` N, or as fast as possible (speed 0)."""

    outputs = {"out": Port(SAMPLES), "markers": Port(MARKER, "cue at each trial onset")}

    class Params(Params):
        classes: list[str] = Field(default_factory=lambda: list(CLASSES), description="left, right, rest, ssvep_<Hz>")
        trial_s: float = Field(4.0, gt=0, description="imagery period after each cue")
        rest_s: float = Field(2.0, ge=0, description="rest before each cue")
        n_trials: int = Field(0, ge=0, description="trials before the end; 0 = endless")
        sfreq: float = Field(SFREQ, gt=0, description="sampling rate")
        chunk_ms: float = Field(40.0, gt=0, description="duration of each chunk")
        speed: float = Field(1.0, ge=0, description="1 = real time, 0 = as fast as possible")
        seed: int = Field(0, description="same seed, same signal")
        noise_uv: float = Field(10.0, ge=0, description="background noise level (µV)")
        alpha_uv: float = Field(10.0, ge=0, description="posterior alpha amplitude (µV)")
        mu_uv: float = Field(8.0, ge=0, description="sensorimotor mu amplitude at rest (µV)")
        erd: float = Field(0.3, ge=0, le=1, description="fraction of mu/beta left during imagery")
        ssvep_uv: float = Field(4.0, ge=0, description="SSVEP amplitude (µV)")

        @field_validator("classes")
        @classmethod
        def _known(cls, v: list[str]) -> list[str]:
            if not v:
                raise ValueError("give at least one class")
            for c in v:
                class_kind(c)
            return v

    def start(self) -> None:
        p = self.params
        self.gen = Generator(p.classes, p.sfreq, p.trial_s, p.rest_s, p.n_trials, p.seed, p.noise_uv,
                             p.alpha_uv, p.mu_uv, p.erd, p.ssvep_uv)
        self.pos = 0
        self.n = max(1, int(round(p.chunk_ms * 1e-3 * p.sfreq)))
        self.pacer = Pacer(p.speed)

    def produce(self) -> dict | None:
        gen, p = self.gen, self.params
        end = gen.end
        if end is not None and self.pos >= end:
            raise EndOfStream
        n = self.n if end is None else min(self.n, end - self.pos)
        if not self.pacer.wait((self.pos + n - 1) / p.sfreq):
            return None
        data = gen.chunk(self.pos, n)
        t0 = streams.now()
        out = {"out": streams.samples(data, sfreq=p.sfreq, ch_names=CHANNELS, t_first_s=self.pos / p.sfreq,
                                      first_sample=self.pos, t_origin=t0)}
        cues = gen.cues(self.pos, self.pos + n)
        if cues:
            out["markers"] = [streams.marker(label, p.classes.index(label), time_s=onset / p.sfreq,
                                             sample=onset, trial=k, source="eeg.synthetic", t_origin=t0)
                              for k, onset, label in cues]
        self.pos += n
        return out


def generate_trials(n: int, seed: int = 0, classes: list[str] | None = None, sfreq: float = SFREQ,
                    trial_s: float = 4.0, rest_s: float = 2.0, **kw) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`n` cued trials for offline training: X (n, channels, samples of trial_s) in volts
    over the channels of CHANNELS, y (n,) indices into the class names, and the class names.

    The trials are cut from one continuous run of the same generator as the node (same
    seed, same signal); other keywords are its amplitudes (noise_uv, alpha_uv, mu_uv, erd,
    ssvep_uv)."""
    if n < 1:
        raise ValueError(f"generate_trials: n must be >= 1, got {n}")
    classes = list(classes or CLASSES)
    defaults = SyntheticEEG.Params().model_dump()
    unknown = set(kw) - {"noise_uv", "alpha_uv", "mu_uv", "erd", "ssvep_uv"}
    if unknown:
        raise TypeError(f"generate_trials: unknown options {sorted(unknown)}")
    opts = {k: kw.get(k, defaults[k]) for k in ("noise_uv", "alpha_uv", "mu_uv", "erd", "ssvep_uv")}
    gen = Generator(classes, sfreq, trial_s, rest_s, n, seed, **opts)
    data = gen.chunk(0, gen.end)
    cues = gen.cues(0, gen.end)
    X = np.stack([data[:, on:on + gen.trial] for _, on, _ in cues])
    y = np.array([classes.index(label) for _, _, label in cues])
    return X, y, classes
