"""Node types used only by the runtime tests (named as "tests.runtime_nodes:Class")."""
import time
from typing import Any

import numpy as np
from pydantic import Field

from drivers.dvs.synthetic import SyntheticCamera
from streamer import streams
from streamer.node import EndOfStream, Params, Port, Source, Transform
from streamer.streams import ANY, COMMAND, DECISION, EVENT_DTYPE, EVENTS, SAMPLES, command


class Boom(Transform):
    """Raises on its n-th message: a node with a bug."""

    inputs = {"in": Port(ANY)}
    outputs = {"out": Port(ANY)}

    class Params(Params):
        after: int = Field(3)
        delay_ms: float = Field(0.0)  # per message: a slow node, whose queue fills behind it

    def start(self) -> None:
        self.seen = 0

    def receive(self, port, msg):
        self.seen += 1
        time.sleep(self.params.delay_ms / 1e3)
        if self.seen >= self.params.after:
            raise RuntimeError(f"boom at message {self.seen}")
        return msg


class NoDevice(Source):
    """A source whose device is missing: start() raises, as a camera that is not plugged in."""

    outputs = {"out": Port(ANY)}

    def start(self) -> None:
        raise RuntimeError("no device found")

    def produce(self):
        return None


class Stimulate(Transform):
    """Sends command `action` with `value` for each decision labelled `label`, and declares
    none of it on its port: a decoder whose commands the graph check cannot see, so that
    only the gate, at run time, stands between a wrong value and the actuator."""

    inputs = {"in": Port(DECISION)}
    outputs = {"out": Port(COMMAND)}

    class Params(Params):
        label: str = Field("seizure")
        action: str = Field("stimulate")
        value: Any = Field(None)

    def receive(self, port, msg):
        if msg.data.get("label") != self.params.label:
            return None
        return command(self.params.action, self.params.value, t_origin=msg.t_origin)


class StallingCamera(SyntheticCamera):
    """dvs.synthetic that falls silent after `stall_after` messages without ending, as a
    driver whose device hangs."""

    class Params(SyntheticCamera.Params):
        stall_after: int = Field(100, ge=0, description="messages sent before the stall")

    def start(self) -> None:
        super().start()
        self.sent = 0

    def produce(self):
        if self.sent >= self.params.stall_after:
            time.sleep(0.05)
            return None
        out = super().produce()
        if out is not None:
            self.sent += 1
        return out


class SpawnsChild(Transform):
    """Passes messages on and keeps a child process running (as a simulator's workers),
    writing the child's pid to `pid_file`."""

    inputs = {"in": Port(ANY)}
    outputs = {"out": Port(ANY)}

    class Params(Params):
        pid_file: str = Field(description="where to write the child's pid")

    def start(self) -> None:
        import subprocess
        import sys

        self.child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(self.params.pid_file, "a") as f:
            f.write(f"{self.child.pid}\n")

    def receive(self, port, msg):
        return msg


class EveryNthBad(Source):
    """`chunks` messages made by `chunk(k, bad)`, every `every`-th one bad."""

    class Params(Params):
        chunks: int = Field(20, ge=1)
        every: int = Field(4, ge=1)

    def start(self) -> None:
        self.k = 0

    def produce(self):
        if self.k >= self.params.chunks:
            raise EndOfStream
        k, self.k = self.k, self.k + 1
        return self.chunk(k, k % self.params.every == self.params.every - 1)


class HostileEvents(EveryNthBad):
    """Chunks of 4 events on an 8 x 8 sensor, numbered in meta `chunk`; the bad ones have an
    event at x = 8, beyond the sensor: valid Events that event nodes must refuse."""

    outputs = {"out": Port(EVENTS)}

    def chunk(self, k: int, bad: bool):
        ev = np.zeros(4, EVENT_DTYPE)
        ev["x"], ev["y"], ev["p"], ev["t"] = [1, 2, 1, 2], [1, 1, 2, 2], 1, k * 100 + np.arange(4)
        if bad:
            ev["x"][-1] = 8
        return streams.events(ev, width=8, height=8, chunk=k)


class ShiftingSamples(EveryNthBad):
    """Chunks of 10 samples at 100 Hz of 2 channels counting up; the bad ones have 3
    channels: valid Samples whose layout changes under a node that serves one stream."""

    outputs = {"out": Port(SAMPLES)}

    def start(self) -> None:
        super().start()
        self.first = 0

    def chunk(self, k: int, bad: bool):
        n_ch = 3 if bad else 2
        x = np.tile(np.arange(self.first, self.first + 10, dtype=np.float32), (n_ch, 1))
        msg = streams.samples(x, sfreq=100.0, ch_names=["a", "b", "c"][:n_ch], first_sample=self.first)
        if not bad:
            self.first += 10
        return msg


class Commands(Source):
    """Sends command `action` `rate_hz` times a second: a decoder that always says the same."""

    outputs = {"out": Port(COMMAND, commands=None)}

    class Params(Params):
        action: str = Field("left")
        rate_hz: float = Field(20.0, gt=0)

    def start(self) -> None:
        self.t_next = time.monotonic()

    def produce(self):
        wait = self.t_next - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, 0.05))
            return None
        self.t_next += 1.0 / self.params.rate_hz
        return command(self.params.action, t_origin=streams.now())
