"""Nodes for the transport benchmark: a source of fixed-size blobs and a meter."""
from __future__ import annotations

import json
import time

import numpy as np
from pydantic import Field

from streamer import streams
from streamer.node import EndOfStream, Params, Port, Sink, Source
from streamer.streams import FRAMES, Message


class Blob(Source):
    """Sends `count` Frames messages of `size_bytes` (the same buffer each time), unpaced
    or at `rate_hz`; t_origin is the time of sending."""

    outputs = {"out": Port(FRAMES)}

    class Params(Params):
        size_bytes: int = Field(1024, ge=8)
        count: int = Field(1000, ge=1)
        rate_hz: float = Field(0.0, ge=0)

    def start(self) -> None:
        self.buf = np.random.default_rng(0).integers(0, 255, self.params.size_bytes, dtype=np.uint8)
        self.sent = 0
        self.t0 = time.monotonic()

    def produce(self) -> Message:
        p = self.params
        if self.sent >= p.count:
            raise EndOfStream
        if p.rate_hz:
            # Sleep, as a driver waiting for its device does (a spinning source would hold the GIL).
            time.sleep(max(0.0, self.t0 + self.sent / p.rate_hz - time.monotonic()))
        self.sent += 1
        return Message(FRAMES, self.buf, {"bin_us": 1000.0}, streams.now())


class Meter(Sink):
    """Counts what arrives and writes throughput and latency figures to `out` (JSON)."""

    inputs = {"in": Port(FRAMES)}

    class Params(Params):
        out: str = Field(description="JSON file for the figures")

    def start(self) -> None:
        self.lat: list[float] = []
        self.bytes = 0
        self.first = self.last = None

    def receive(self, port: str, msg: Message) -> None:
        t = streams.now()
        self.lat.append(t - msg.t_origin)
        self.bytes += msg.data.nbytes
        if self.first is None:
            self.first = msg.t_origin
        self.last = t

    def stop(self) -> None:
        with open(self.params.out, "w") as f:
            json.dump({"n": len(self.lat), "bytes": self.bytes, "first": self.first, "last": self.last,
                       "latency": self.lat}, f)
