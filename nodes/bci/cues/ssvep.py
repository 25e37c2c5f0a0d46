"""`cues.ssvep`: steady-state visual evoked potentials: targets flickering at given frequencies."""
from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator

from streamer.node import Params, Port
from streamer.streams import MARKER

from .schedule import CueSource, Player, balanced_order


class Ssvep(CueSource):
    """SSVEP trials: the page shows one target per frequency, each flickering with the
    luminance 0.5 (1 + sin(2 pi f t)) computed from the time of each display frame
    (requestAnimationFrame), so the frequency holds whatever the refresh rate; the attended
    target of a trial is marked. Markers: `ssvep` at the flicker's start (value: the target
    index; `freqs_hz`, `target`) and `rest` at its end. Targets come `trials_per_target`
    times each in a random order.

    The page sends back the time of every frame it drew (mapped to the graph's clock) and
    the luminance of each target, which the console emits as `frame_times` markers: the
    recording holds what was actually shown."""

    outputs = {"out": Port(MARKER, "ssvep (trial start, attended target), rest")}

    class Params(Params):
        freqs_hz: list[float] = Field([8.0, 10.0, 12.0, 15.0], description="flicker frequency of each target")
        trials_per_target: int = Field(5, ge=1, le=1000, description="trials attending each target")
        stim_s: float = Field(4.0, gt=0, description="flicker duration of a trial")
        rest_s: float = Field(1.5, ge=0, description="rest between trials (at least)")
        jitter_s: float = Field(0.5, ge=0, description="random extra rest, uniform in [0, jitter_s]")
        start_s: float = Field(2.0, ge=0, description="wait before the first trial")
        seed: int | None = Field(None, description="seed of the order and jitter")

        @field_validator("freqs_hz")
        @classmethod
        def _freqs(cls, v: list[float]) -> list[float]:
            if not v or any(not 0 < f <= 30 for f in v):
                raise ValueError(f"freqs_hz must list frequencies in (0, 30] Hz (a 60 Hz display shows at most "
                                 f"30 Hz), got {v}")
            return v

    def start(self) -> None:
        p = self.params
        rng = np.random.default_rng(p.seed)
        order = balanced_order([str(k) for k in range(len(p.freqs_hz))], p.trials_per_target, rng)
        events, t = [], p.start_s
        for n, k in enumerate(int(x) for x in order):
            stim = {"show": "ssvep", "freqs_hz": list(p.freqs_hz), "target": k, "duration_s": p.stim_s}
            events.append((t, "ssvep", k, {"trial": n + 1, "paradigm": "ssvep", "freq_hz": p.freqs_hz[k],
                                            "stimulus": stim}))
            t += p.stim_s
            events.append((t, "rest", n + 1, {"trial": n + 1, "paradigm": "ssvep", "stimulus": {"show": "rest"}}))
            t += p.rest_s + float(rng.uniform(0, p.jitter_s))
        events.append((t, "end", None, {"paradigm": "ssvep", "stimulus": {"show": "end"}}))
        self.player = Player(events, "cues.ssvep")
        self.details["backend"] = f"{len(order)} trials at {p.freqs_hz} Hz, about {t:.0f} s"
