"""Built-in nodes that exercise the runtime without any device."""
from __future__ import annotations

import logging
import math
import time
from typing import Annotated

import numpy as np
from pydantic import AfterValidator, Field

from . import streams
from .clock import Pacer
from .node import WILDCARD, EndOfStream, Params, Port, Sink, Source, Transform
from .streams import ANY, SAMPLES, Message

log = logging.getLogger("streamer.log")


def _level(name: str) -> str:
    if not isinstance(logging.getLevelName(name.upper()), int):
        raise ValueError(f"unknown logging level {name!r}; use DEBUG, INFO, WARNING or ERROR")
    return name


# A logging level by name (DEBUG, INFO, WARNING, ERROR, CRITICAL), in any case.
LogLevel = Annotated[str, AfterValidator(_level)]


class Counter(Source):
    """Consecutive integers 0, 1, 2, ... as a one-channel Samples stream ("count").

    Sample i is due at i / rate_hz seconds; chunks of `chunk` samples leave when their
    last sample is due. rate_hz 0 runs as fast as possible; count 0 never ends."""

    outputs = {"out": Port(SAMPLES, "consecutive integers, float32, channel 'count'")}

    class Params(Params):
        rate_hz: float = Field(1000.0, ge=0, description="samples per second; 0 = as fast as possible")
        count: int = Field(0, ge=0, description="how many values before the end; 0 = endless")
        chunk: int = Field(10, ge=1, description="samples per message")

    def start(self) -> None:
        self.next = 0
        rate = self.params.rate_hz
        self.pacer = Pacer(speed=1.0 if rate > 0 else 0.0)

    def produce(self) -> Message | None:
        p = self.params
        if p.count and self.next >= p.count:
            raise EndOfStream
        n = p.chunk if not p.count else min(p.chunk, p.count - self.next)
        first = self.next
        if not self.pacer.unpaced and not self.pacer.wait((first + n - 1) / p.rate_hz):
            return None
        self.next += n
        data = np.arange(first, first + n, dtype=np.float32)[None, :]
        sfreq = p.rate_hz if p.rate_hz > 0 else 1.0
        return streams.samples(data, sfreq=sfreq, ch_names=["count"], ch_types=["misc"],
                               units=["n/a"], t_first_s=first / sfreq, first_sample=first)


class Log(Sink):
    """Prints a line for each message it receives (at most `max_rate_hz` lines per second)."""

    optional = True
    default_on_failure = "detach"
    inputs = {WILDCARD: Port(ANY, "any stream; every edge into it is logged")}

    class Params(Params):
        max_rate_hz: float = Field(10.0, gt=0, description="lines per second at most; the rest are counted")
        level: LogLevel = Field("INFO", description="logging level of the lines")

    def start(self) -> None:
        self.last = -math.inf
        self.level = logging.getLevelName(self.params.level.upper())

    def receive(self, port: str, msg: Message) -> None:
        t = time.monotonic()
        if t - self.last < 1.0 / self.params.max_rate_hz:
            self.count("not_shown")
            return
        self.last = t
        log.log(self.level, "%s", describe(port, msg))


def values(data: object, width: int = 240) -> str:
    """A few values of an array on one line (numpy's summary: the first and last two
    along each axis), events as (x, y, p, t)."""
    if not isinstance(data, np.ndarray):
        return repr(data)[:width]
    text = np.array2string(data, threshold=6, edgeitems=2, precision=4, max_line_width=10**6)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def describe(port: str, msg: Message) -> str:
    if msg.stream in streams.ITEM_STREAMS:
        body = ", ".join(f"{k}={v!r}" for k, v in msg.data.items())
    else:
        shape = "x".join(str(s) for s in getattr(msg.data, "shape", ()))
        body = f"{msg.items} items, shape {shape}: {values(msg.data)}"
    lat = (streams.now() - msg.t_origin) * 1e3
    return f"[{port}] {msg.stream} #{msg.seq}: {body} ({lat:.2f} ms since origin)"


class Delay(Transform):
    """Passes every message on after holding it `delay_ms` (a slow consumer, for tests and
    for simulating latency). Nothing is dropped."""

    inputs = {"in": Port(ANY)}
    outputs = {"out": Port(ANY)}

    class Params(Params):
        delay_ms: float = Field(1.0, ge=0, description="time each message is held")

    def receive(self, port: str, msg: Message) -> Message:
        time.sleep(self.params.delay_ms / 1e3)
        return msg
