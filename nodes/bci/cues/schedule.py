"""The timing shared by the cue paradigms: a list of (delay from start, marker) played by
a source that sleeps until each is due."""
from __future__ import annotations

import time

import numpy as np

from streamer.node import EndOfStream, Source
from streamer.streams import Message, marker, now

NAP_S = 0.02  # produce() returns this often at most while waiting (the runtime's own work)


def balanced_order(labels: list[str], per_label: int, rng: np.random.Generator) -> list[str]:
    """Each label `per_label` times, in random order, no label more than twice in a row
    when the counts allow it (a subject who guesses the next cue learns nothing)."""
    for _ in range(100):
        order = list(rng.permutation(np.repeat(labels, per_label)))
        if all(not (order[i] == order[i - 1] == order[i - 2]) for i in range(2, len(order))):
            return [str(x) for x in order]
    return [str(x) for x in order]


class Player:
    """Plays (t_s, label, value, extra) events from the moment `go` is called; each marker
    carries the host monotonic time it was emitted as both `time_s` and `t_origin`."""

    def __init__(self, events: list[tuple[float, str, object, dict]], source: str) -> None:
        self.events = sorted(events, key=lambda e: e[0])
        self.source = source
        self.i = 0
        self.t0: float | None = None

    @property
    def done(self) -> bool:
        return self.i >= len(self.events)

    @property
    def duration_s(self) -> float:
        return self.events[-1][0] if self.events else 0.0

    def due(self) -> list[Message]:
        t = now()
        if self.t0 is None:
            self.t0 = t
        out = []
        while self.i < len(self.events) and self.t0 + self.events[self.i][0] <= t:
            _, label, value, extra = self.events[self.i]
            shown = now()
            out.append(marker(label, value, time_s=shown, t_origin=shown, source=self.source, **extra))
            self.i += 1
        if not out and self.i < len(self.events):
            time.sleep(min(NAP_S, max(0.0, self.t0 + self.events[self.i][0] - now())))
        return out


class CueSource(Source):
    """A paradigm: `start()` sets `self.player`; its markers go out as they fall due."""

    player: Player

    def produce(self) -> list | None:
        if self.player.done:
            raise EndOfStream
        out = self.player.due()
        self.count("markers", len(out))
        return out or None
