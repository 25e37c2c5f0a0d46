"""A synthetic event camera that needs nothing: bright shapes and digits moving over a
dark background, seen by a simulated DVS pixel array.

Each render step (1 ms by default) the scene is drawn with 4 x 4 supersampling, and every
pixel compares its log intensity with the level at which it last fired: each crossing of
its contrast threshold (the same for all pixels, or spread by `threshold_mismatch`) is
one event, timestamped by linear interpolation of the log intensity inside the step (so
events spread within the step, as on a real sensor).
Background activity (uniform over the array) and hot pixels are added on top.

Trials follow a schedule: an object of one class is shown for `trial_ms`, then the
screen is blank for `gap_ms`. A Marker (label = class name, value = class index) is
emitted at each trial onset. Everything is drawn from `seed`: the same seed gives
identical events.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
from numba import njit
from pydantic import Field, field_validator

import streamer.node
from streamer import streams
from streamer.clock import Pacer
from streamer.node import EndOfStream, Port, Source
from streamer.streams import EVENT_DTYPE, EVENTS, MARKER

WIDTH = HEIGHT = 32
SHAPES = ("circle", "square", "triangle", "cross")
DIGITS = tuple(str(d) for d in range(10))
CLASSES = list(SHAPES)  # the default schedule
STEP_US = 1000  # render step
TEMPLATE = 35  # side of the class templates (5 x 7 digit cells of 5 x 5)
_BACKGROUND, _FOREGROUND = 0.05, 1.0  # dark background, bright object (linear intensity)

# 5 x 7 bitmap font, one string per row ('#' = lit).
_FONT = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
}


def _shape_template(name: str) -> np.ndarray:
    n = TEMPLATE
    c = (np.arange(n) + 0.5) / n * 2 - 1  # [-1, 1] cell centres
    x, y = np.meshgrid(c, c)
    if name == "circle":  # a ring: its edges differ from the square's at every angle
        r = np.hypot(x, y)
        return (r <= 0.95) & (r >= 0.55)
    if name == "square":  # filled
        return (np.abs(x) <= 0.8) & (np.abs(y) <= 0.8)
    if name == "triangle":  # filled, apex up (y grows downwards on the sensor)
        return (y <= 0.85) & (np.abs(x) <= 0.95 * (y + 0.85) / 1.7)
    if name == "cross":  # a plus sign of two bars
        return ((np.abs(x) <= 0.22) & (np.abs(y) <= 0.95)) | ((np.abs(y) <= 0.22) & (np.abs(x) <= 0.95))
    raise KeyError(name)


def _digit_template(d: str) -> np.ndarray:
    cells = np.array([[ch == "#" for ch in row] for row in _FONT[d]])  # 7 x 5
    out = np.zeros((TEMPLATE, TEMPLATE), dtype=bool)
    out[:, 5:30] = np.kron(cells, np.ones((5, 5), dtype=bool))
    return out


def template(name: str) -> np.ndarray:
    """The TEMPLATE x TEMPLATE mask of a class (shape name or digit '0'..'9')."""
    if name in SHAPES:
        return _shape_template(name)
    if name in DIGITS:
        return _digit_template(name)
    raise ValueError(f"unknown class {name!r}; classes are {', '.join(SHAPES + DIGITS)}")


@njit(cache=True, nogil=True)
def _render(out: np.ndarray, tmpl: np.ndarray, cx: float, cy: float, size: float,
            bg: float, fg: float) -> None:
    """Draw a template of side `size` px centred at (cx, cy) into `out` (H, W) as log
    intensity, with 4 x 4 supersampling per pixel (edges move smoothly between pixels)."""
    h, w = out.shape
    n = tmpl.shape[0]
    x0, y0 = cx - size / 2, cy - size / 2
    scale = n / size
    for y in range(h):
        for x in range(w):
            hit = 0
            for sy in range(4):
                v = (y + (sy + 0.5) / 4 - y0) * scale
                if v < 0 or v >= n:
                    continue
                for sx in range(4):
                    u = (x + (sx + 0.5) / 4 - x0) * scale
                    if u >= 0 and u < n and tmpl[int(v), int(u)]:
                        hit += 1
            out[y, x] = math.log(bg + (fg - bg) * hit / 16.0)


@njit(cache=True, nogil=True)
def _within(crossing: float, a: float, b: float, step_us: int) -> int:
    """µs into the step at which log intensity, going linearly from a to b, crosses."""
    if b == a:
        return 0
    return min(step_us - 1, max(0, int((crossing - a) / (b - a) * step_us)))


@njit(cache=True, nogil=True)
def _simulate(templates: np.ndarray, cls: np.ndarray, cx: np.ndarray, cy: np.ndarray,
              t_step: np.ndarray, step_us: int, size: float, thresholds: np.ndarray, bg: float,
              fg: float, level: np.ndarray, last: np.ndarray, xs: np.ndarray, ys: np.ndarray,
              ps: np.ndarray, ts: np.ndarray, start: int) -> tuple[int, int]:
    """Render steps start.. and emit threshold crossings into (xs, ys, ps, ts).

    `level` is each pixel's log intensity at its last event, `last` its log intensity at
    the end of the previous step (both updated in place). Stops before a step that might
    not fit the buffers; returns (events written, next step to do).
    """
    h, w = level.shape
    frame = np.empty((h, w))
    max_per_pixel = int(abs(math.log(fg / bg)) / thresholds.min()) + 2
    n = 0
    cap = xs.shape[0]
    k = start
    while k < cls.shape[0]:
        if n + h * w * max_per_pixel > cap:
            break
        if cls[k] < 0:
            frame[:, :] = math.log(bg)
        else:
            _render(frame, templates[cls[k]], cx[k], cy[k], size, bg, fg)
        t0 = t_step[k]
        for y in range(h):
            for x in range(w):
                a, b = last[y, x], frame[y, x]
                ref = level[y, x]
                threshold = thresholds[y, x]
                if b - ref >= threshold:
                    while b - ref >= threshold:
                        ref += threshold
                        xs[n], ys[n], ps[n] = x, y, 1
                        ts[n] = t0 + _within(ref, a, b, step_us)
                        n += 1
                elif ref - b >= threshold:
                    while ref - b >= threshold:
                        ref -= threshold
                        xs[n], ys[n], ps[n] = x, y, 0
                        ts[n] = t0 + _within(ref, a, b, step_us)
                        n += 1
                level[y, x] = ref
                last[y, x] = b
        k += 1
    return n, k


def _bounce(p0: np.ndarray, v: float, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Position at times t of a point starting at p0 with speed v, reflected at lo and hi."""
    span = hi - lo
    if span <= 0:
        return np.full_like(t, (lo + hi) / 2)
    u = np.mod(p0 - lo + v * t, 2 * span)
    return lo + np.where(u > span, 2 * span - u, u)


class _Scene:
    """The simulated sensor and its schedule, stepped chunk by chunk."""

    def __init__(self, classes: Sequence[str], width: int, height: int, trial_ms: float,
                 gap_ms: float, n_trials: int, speed_px_per_s: float, size_px: float,
                 contrast_threshold: float, noise_hz: float, hot_pixels: int,
                 hot_pixel_hz: float, seed: int, threshold_mismatch: float = 0.0) -> None:
        self.classes = list(classes)
        self.templates = np.stack([template(c) for c in self.classes])
        self.width, self.height = width, height
        self.trial_us = int(round(trial_ms * 1e3))
        self.period_us = self.trial_us + int(round(gap_ms * 1e3))
        self.n_trials = n_trials
        self.speed = speed_px_per_s
        self.size = size_px
        # Per-pixel thresholds: a real sensor's vary by a few percent around the nominal one.
        # Their own random stream, drawn only when asked, so that 0 leaves every event as it was.
        self.thresholds = np.full((height, width), float(contrast_threshold))
        if threshold_mismatch > 0:
            spread = np.random.default_rng([seed, 2]).standard_normal((height, width)) * threshold_mismatch
            self.thresholds *= np.clip(1 + spread, 0.25, None)
        self.noise_hz, self.hot_hz = noise_hz, hot_pixel_hz
        self.rng = np.random.default_rng(seed)
        # Separate streams so that changing the noise does not change the trials.
        self.noise_rng = np.random.default_rng([seed, 1])
        hot = self.noise_rng.choice(width * height, size=min(hot_pixels, width * height), replace=False)
        self.hot_x, self.hot_y = (hot % width).astype(np.uint16), (hot // width).astype(np.uint16)
        self.level = np.full((height, width), math.log(_BACKGROUND))
        self.last = self.level.copy()
        self.trials: list[tuple[int, float, float, float, float]] = []  # class, x0, y0, vx, vy
        self._order: list[int] = []
        self.t_us = 0  # start of the next step to render
        self.end_us = n_trials * self.period_us if n_trials > 0 else None

    def _trial(self, i: int) -> tuple[int, float, float, float, float]:
        while len(self.trials) <= i:
            if not self._order:  # balanced blocks: each class once per block, shuffled
                self._order = list(self.rng.permutation(len(self.classes)))
            c = int(self._order.pop(0))
            half = self.size / 2
            x0 = self.rng.uniform(half, max(half, self.width - half))
            y0 = self.rng.uniform(half, max(half, self.height - half))
            ang = self.rng.uniform(0, 2 * np.pi)
            self.trials.append((c, x0, y0, self.speed * np.cos(ang), self.speed * np.sin(ang)))
        return self.trials[i]

    def onsets(self, t0_us: int, t1_us: int) -> list[tuple[int, int]]:
        """(trial index, onset µs) of the trials starting in [t0, t1)."""
        first = -(-t0_us // self.period_us)
        out = []
        i = first
        while i * self.period_us < t1_us and (self.n_trials <= 0 or i < self.n_trials):
            out.append((i, i * self.period_us))
            i += 1
        return out

    def step(self, duration_us: int) -> np.ndarray:
        """Events of the next `duration_us` (whole render steps), sorted by time."""
        n_steps = max(1, duration_us // STEP_US)
        if self.end_us is not None:
            n_steps = min(n_steps, max(0, -(-(self.end_us - self.t_us) // STEP_US)))
        t_step = self.t_us + STEP_US * np.arange(n_steps, dtype=np.int64)
        t_end = self.t_us + STEP_US * n_steps
        # Scene state at the end of each step.
        t_seen = t_step + STEP_US
        trial = (t_seen - 1) // self.period_us
        phase = t_seen - trial * self.period_us
        shown = (phase <= self.trial_us) & (phase > 0)
        if self.n_trials > 0:
            shown &= trial < self.n_trials
        cls = np.full(n_steps, -1, dtype=np.int64)
        cx = np.zeros(n_steps)
        cy = np.zeros(n_steps)
        half = self.size / 2
        for i in np.unique(trial[shown]):
            sel = shown & (trial == i)
            c, x0, y0, vx, vy = self._trial(int(i))
            s = phase[sel] * 1e-6
            cls[sel] = c
            cx[sel] = _bounce(x0, vx, s, half, self.width - half)
            cy[sel] = _bounce(y0, vy, s, half, self.height - half)
        signal = self._signal(cls, cx, cy, t_step)
        noise = self._noise(self.t_us, t_end)
        self.t_us = t_end
        out = np.empty(len(signal) + len(noise), dtype=EVENT_DTYPE)
        out[:len(signal)] = signal
        out[len(signal):] = noise
        return out[np.argsort(out["t"], kind="stable")]

    def _signal(self, cls, cx, cy, t_step) -> np.ndarray:
        parts = []
        cap = max(1 << 14, 4 * self.width * self.height * (int(2.5 / self.thresholds.min()) + 3))
        k = 0
        while k < len(cls):
            xs = np.empty(cap, np.uint16)
            ys = np.empty(cap, np.uint16)
            ps = np.empty(cap, np.int8)
            ts = np.empty(cap, np.int64)
            n, k = _simulate(self.templates, cls, cx, cy, t_step, STEP_US, float(self.size),
                             self.thresholds, _BACKGROUND, _FOREGROUND, self.level,
                             self.last, xs, ys, ps, ts, k)
            parts.append(streams.as_events(xs[:n], ys[:n], ps[:n], ts[:n]))
        if len(parts) == 1:
            return parts[0]
        out = np.empty(sum(len(p) for p in parts), EVENT_DTYPE)
        i = 0
        for p in parts:
            out[i:i + len(p)] = p
            i += len(p)
        return out

    def _noise(self, t0: int, t1: int) -> np.ndarray:
        dur_s = (t1 - t0) * 1e-6
        rng = self.noise_rng
        n_bg = rng.poisson(self.noise_hz * self.width * self.height * dur_s)
        n_hot = rng.poisson(self.hot_hz * dur_s, size=len(self.hot_x))
        n = n_bg + int(n_hot.sum())
        ev = np.empty(n, EVENT_DTYPE)
        ev["x"][:n_bg] = rng.integers(0, self.width, n_bg)
        ev["y"][:n_bg] = rng.integers(0, self.height, n_bg)
        ev["x"][n_bg:] = np.repeat(self.hot_x, n_hot)
        ev["y"][n_bg:] = np.repeat(self.hot_y, n_hot)
        ev["p"] = rng.integers(0, 2, n)
        ev["t"] = rng.integers(t0, t1, n)
        return ev

    @property
    def done(self) -> bool:
        return self.end_us is not None and self.t_us >= self.end_us


class SyntheticCamera(Source):
    """Synthetic event camera: shapes (circle, square, triangle, cross) and digits 0-9
    moving over a dark background, with background activity and hot pixels.

    Outputs `out` (Events, µs from 0 on the device clock) and `markers` (a Marker at each
    trial onset: label = class name, value = class index, time = device time in s).
    Deterministic: the same seed gives the same events.
    """

    outputs = {"out": Port(EVENTS, "events of the simulated sensor"),
               "markers": Port(MARKER, "one marker per trial onset")}

    class Params(streamer.node.Params):
        classes: list[str] = Field(default_factory=lambda: list(CLASSES),
                                   description="classes shown, from circle, square, triangle, cross, 0..9")
        width: int = Field(WIDTH, ge=4, le=4096, description="sensor width (px)")
        height: int = Field(HEIGHT, ge=4, le=4096, description="sensor height (px)")
        trial_ms: float = Field(300.0, gt=0, description="how long each object is shown (ms)")
        gap_ms: float = Field(100.0, ge=0, description="blank screen between trials (ms)")
        n_trials: int = Field(0, ge=0, description="trials before the end of stream (0 = endless)")
        duration_s: float = Field(0.0, ge=0, description="device time before the end of stream "
                                                         "(s, whole ms; 0 = endless); the earlier of this and n_trials ends it")
        speed_px_per_s: float = Field(40.0, ge=0, description="object speed (px/s)")
        size_px: float | None = Field(None, gt=0, description="object side (px); default 0.6 x min(width, height)")
        contrast_threshold: float = Field(0.2, gt=0, description="log-intensity change per event")
        threshold_mismatch: float = Field(0.0, ge=0, le=1, description="relative spread (standard deviation) of "
                                                                       "the per-pixel thresholds around it")
        noise_hz: float = Field(0.2, ge=0, description="background activity per pixel (events/s)")
        hot_pixels: int = Field(0, ge=0, description="number of hot pixels")
        hot_pixel_hz: float = Field(200.0, ge=0, description="event rate of each hot pixel (events/s)")
        seed: int = Field(0, description="random seed: same seed, same events")
        speed: float = Field(1.0, ge=0, description="1 = real time, N = N x faster, 0 = as fast as possible")
        chunk_ms: float = Field(10.0, gt=0, description="duration of each emitted chunk (ms)")

        @field_validator("classes")
        @classmethod
        def _known(cls, v: list[str]) -> list[str]:
            if not v:
                raise ValueError("classes must name at least one class")
            bad = [c for c in v if c not in SHAPES + DIGITS]
            if bad:
                raise ValueError(f"unknown classes {bad}; choose from {', '.join(SHAPES + DIGITS)}")
            return v

    def start(self) -> None:
        p = self.params
        self.scene = _make_scene(p.model_dump(exclude={"speed", "chunk_ms"}))
        if p.duration_s > 0:
            end = -(-int(round(p.duration_s * 1e6)) // STEP_US) * STEP_US
            self.scene.end_us = end if self.scene.end_us is None else min(end, self.scene.end_us)
        self.pacer = Pacer(p.speed if p.speed > 0 else 0.0)
        self.chunk_us = max(STEP_US, int(round(p.chunk_ms * 1e3)) // STEP_US * STEP_US)
        self._held: tuple | None = None

    def produce(self):
        if self._held is None:
            if self.scene.done:
                raise EndOfStream
            t0 = self.scene.t_us
            ev = self.scene.step(self.chunk_us)
            self._held = (t0, self.scene.t_us, ev)
        t0, t1, ev = self._held
        if not self.pacer.wait(t1 * 1e-6):
            return None
        self._held = None
        t_origin = streams.now()
        # t_end_us: the stream is complete up to here, so downstream bins can close in silence.
        out = {"out": streams.events(ev, width=self.params.width, height=self.params.height,
                                     t_origin=t_origin, t_end_us=int(t1))}
        marks = [streams.marker(self.scene.classes[self.scene._trial(i)[0]],
                                self.scene._trial(i)[0], time_s=onset * 1e-6, source=self.name,
                                t_origin=t_origin)
                 for i, onset in self.scene.onsets(t0, t1)]
        if marks:
            out["markers"] = marks
        return out


def _make_scene(p: dict) -> _Scene:
    size = p.get("size_px") or 0.6 * min(p["width"], p["height"])
    return _Scene(p["classes"], p["width"], p["height"], p["trial_ms"], p["gap_ms"],
                  p["n_trials"], p["speed_px_per_s"], size, p["contrast_threshold"],
                  p["noise_hz"], p["hot_pixels"], p["hot_pixel_hz"], p["seed"],
                  p.get("threshold_mismatch", 0.0))


class Trial(NamedTuple):
    """Events of one trial (t from 0 at its onset) and its class index."""

    events: np.ndarray
    label: int


def generate_trials(n: int, seed: int = 0, classes: Sequence[str] | None = None,
                    width: int = WIDTH, height: int = HEIGHT, trial_ms: float = 300.0,
                    **kw) -> list[Trial]:
    """`n` trials of the synthetic camera for offline training: [(events, class index)].

    Each trial's events run from its onset (t = 0) to trial_ms; other keyword arguments
    are the camera's parameters (gap_ms, speed_px_per_s, noise_hz, ...).
    """
    if n < 1:
        raise ValueError(f"generate_trials: n must be >= 1, got {n}")
    kw = {k: v for k, v in kw.items() if k not in ("speed", "chunk_ms", "duration_s")}
    params = SyntheticCamera.Params(classes=list(classes or CLASSES), width=width, height=height,
                                    trial_ms=trial_ms, n_trials=n, seed=seed, **kw)
    scene = _make_scene(params.model_dump())
    ev = scene.step(scene.end_us)
    bounds = np.searchsorted(ev["t"], [i * scene.period_us for i in range(n)] + [scene.end_us])
    out = []
    for i in range(n):
        part = ev[bounds[i]:bounds[i + 1]]
        part = part[part["t"] < i * scene.period_us + scene.trial_us].copy()
        part["t"] -= i * scene.period_us
        out.append(Trial(part, scene._trial(i)[0]))
    return out
