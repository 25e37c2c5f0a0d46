"""`cues.align`: cue markers placed on an amplifier's samples."""
from __future__ import annotations

import math

from pydantic import Field

from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import MARKER, SAMPLES, Message

from nodes.signal.checks import first_sample, require_samples, t_first_s

MAX_SKEW_S = 3600.0  # a marker's shown time further than this from its own stamp is not believed
MAX_OFFSET_S = 1e11  # device clocks may count from 1970 (BrainFlow); ~3000 years apart: a broken stamp


class Align(Transform):
    """Gives each marker (stamped on the host monotonic clock, as cue nodes and the console
    do) the `sample` and `time_s` it falls on in the samples' own clock, so that
    signal.epochs cuts epochs at the cue. The host-to-device offset is the smallest seen
    over the chunks (t_origin minus the time of their newest sample: transport only adds
    delay), and a marker waits for a chunk acquired after it. Counters: aligned,
    `offset_ms` (the offset's spread since the first chunk)."""

    inputs = {"in": Port(MARKER, "markers on the host clock (t_origin)"),
              "clock": Port(SAMPLES, "the samples to align them to")}
    outputs = {"out": Port(MARKER, "the same markers with `sample` and `time_s` on the samples' clock")}

    class Params(Params):
        labels: list[str] | None = Field(None, description="markers to pass on (default: all)")

    def start(self) -> None:
        self.pending: list[Message] = []
        self.ref: tuple[float, int, float] | None = None  # (offset host - device, newest sample, its device time)
        self.sfreq = math.nan
        self.t_newest = -math.inf
        self.first_offset = math.nan

    def receive(self, port: str, msg: Message) -> list[Message]:
        if port == "in":
            if msg.stream != MARKER:
                raise Rejected(f"{self.name}: port in takes Markers, got {msg.stream}")
            if not math.isfinite(msg.t_origin):
                raise Rejected(f"{self.name}: a marker without a time (t_origin {msg.t_origin})")
            if self.params.labels is None or msg.data.get("label") in self.params.labels:
                self.pending.append(msg)
            return self._ready()
        sfreq = require_samples(msg, self.name)
        n = msg.data.shape[1]
        if n == 0:
            return []
        newest = first_sample(msg, self.name, sfreq) + n - 1
        t_dev = t_first_s(msg, self.name) + (n - 1) / sfreq
        offset = msg.t_origin - t_dev
        if not abs(offset) < MAX_OFFSET_S:
            raise Rejected(f"{self.name}: Samples stamped t_origin {msg.t_origin} for device time {t_dev}: "
                           "not a time on the graph's clock; fix the stream's source")
        if self.ref is None or offset < self.ref[0] or sfreq != self.sfreq:
            self.ref = (offset, newest, t_dev)
            if math.isnan(self.first_offset):
                self.first_offset = offset
        self.sfreq = sfreq
        self.t_newest = max(self.t_newest, msg.t_origin)
        self.counters["offset_ms"] = round((self.first_offset - self.ref[0]) * 1e3, 3)
        return self._ready()

    def _place(self, msg: Message) -> Message | None:
        offset, sample, t_dev = self.ref
        t_host = msg.data.get("time_s", msg.t_origin)
        if not isinstance(t_host, (int, float)) or not abs(t_host - msg.t_origin) < MAX_SKEW_S:
            t_host = msg.t_origin  # no time, or one no display could have: the marker's own stamp
        device = t_host - offset
        if not abs(device - t_dev) < MAX_OFFSET_S:
            self.count("unplaceable")  # a stamp no stream of this run could have
            return None
        s = sample + int(round((device - t_dev) * self.sfreq))
        self.count("aligned")
        return msg.with_data({**msg.data, "time_s": device, "sample": s, "host_time_s": t_host})

    def _ready(self) -> list[Message]:
        if self.ref is None:
            return []
        out = [p for m in self.pending if m.t_origin <= self.t_newest and (p := self._place(m)) is not None]
        self.pending = [m for m in self.pending if m.t_origin > self.t_newest]
        return out

    def finish(self) -> list[Message]:
        out = [p for m in self.pending if (p := self._place(m)) is not None] if self.ref is not None else []
        self.pending = []
        return out
