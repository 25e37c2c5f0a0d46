"""`cues.motor_imagery`: the Graz-style motor imagery paradigm (fixation, cue, imagery, rest)."""
from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from streamer.node import Params, Port
from streamer.streams import MARKER

from .schedule import CueSource, Player, balanced_order


class MotorImagery(CueSource):
    """Cues for motor imagery, trial after trial: a fixation cross (`fixation`), then the
    cue (the class label, e.g. `left`: an arrow on the page) at which the imagery starts,
    held for `imagery_s`, then `rest` for `rest_s` plus a random 0-`jitter_s` (so the
    subject cannot anticipate the next trial). Classes come `trials_per_class` times each
    in a random order (seeded) with no class three times in a row. The run ends after the
    last rest.

    Each marker's `time_s` and t_origin are the host monotonic time it was shown (headless:
    the node's own timing; the console's /stimulus page draws it on its next frame and
    sends back `shown:` markers stamped with that frame's time). To epoch an amplifier's
    samples at the cues, pass the markers through `cues.align` with the samples."""

    outputs = {"out": Port(MARKER, "fixation, the class label at the cue, rest")}

    class Params(Params):
        classes: list[str] = Field(["left", "right"], description="class labels, one cue each")
        trials_per_class: int = Field(10, ge=1, le=1000, description="trials of each class")
        fixation_s: float = Field(1.0, ge=0, description="fixation cross before the cue")
        imagery_s: float = Field(4.0, gt=0, description="imagery from the cue on")
        rest_s: float = Field(1.5, ge=0, description="rest after the imagery (at least)")
        jitter_s: float = Field(1.0, ge=0, description="random extra rest, uniform in [0, jitter_s]")
        start_s: float = Field(2.0, ge=0, description="wait before the first trial (the amplifier settles)")
        seed: int | None = Field(None, description="seed of the order and jitter (None: a new one each run)")

        @model_validator(mode="after")
        def _classes(self) -> "MotorImagery.Params":
            if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
                raise ValueError(f"classes must name two or more different labels, got {self.classes}")
            clash = set(self.classes) & {"fixation", "rest"}
            if clash:
                raise ValueError(f"class label {sorted(clash)[0]!r} is a marker of the paradigm; rename it")
            return self

    def start(self) -> None:
        p = self.params
        rng = np.random.default_rng(p.seed)
        order = balanced_order(p.classes, p.trials_per_class, rng)
        events, t = [], p.start_s
        for k, label in enumerate(order):
            trial = {"trial": k + 1, "paradigm": "motor_imagery"}
            events.append((t, "fixation", k + 1, {**trial, "stimulus": {"show": "fixation"}}))
            t += p.fixation_s
            events.append((t, label, p.classes.index(label),
                           {**trial, "stimulus": {"show": "cue", "class": label, "duration_s": p.imagery_s}}))
            t += p.imagery_s
            events.append((t, "rest", k + 1, {**trial, "stimulus": {"show": "rest"}}))
            t += p.rest_s + float(rng.uniform(0, p.jitter_s))
        events.append((t, "end", None, {"paradigm": "motor_imagery", "stimulus": {"show": "end"}}))
        self.player = Player(events, "cues.motor_imagery")
        self.details["backend"] = f"{len(order)} trials, about {t:.0f} s"
        self.order = order
