"""The `record` sink and the `replay` source."""
from __future__ import annotations

import math
from pathlib import Path

from pydantic import Field

from . import streams
from .clock import Pacer
from .node import WILDCARD, EndOfStream, Params, Port, Sink, Source
from .paths import InputPath, OutputPath
from .recording import Reader, Writer, streams_of
from .streams import ANY, Message


class Record(Sink):
    """Writes every stream it receives to one recording file as it arrives.

    Each input port is one named stream of the recording: `camera -> rec.events`,
    `eeg.markers -> rec.markers`. Chunks reach the kernel as they arrive, so a killed
    process loses nothing it received; read it back with `streamer.recording.read(path)`."""

    optional = True
    default_on_failure = "detach"
    stop_drain_s = 0.5  # on a stop, record the last words of the nodes (the gate's safe command)
    inputs = {WILDCARD: Port(ANY, "any stream; the port name is the stream's name in the file")}

    class Params(Params):
        path: OutputPath = Field(description="recording file to write (replaced if it exists)")
        fsync: bool = Field(False, description="also force each chunk to the disk (survives power loss; slower)")

    def start(self) -> None:
        self.writer = Writer(self.params.path, fsync=self.params.fsync)

    def receive(self, port: str, msg: Message) -> None:
        self.writer.write(port, msg, streams.now())
        self.count("bytes_written", 0)  # keeps the counter visible from the start
        self.counters["bytes_written"] = self.writer.bytes

    def stop(self) -> None:
        if hasattr(self, "writer"):
            self.writer.close()


class Replay(Source):
    """Plays a recording back: each stream on the output port of its name, with the
    original intervals between messages (from their t_origin), `speed` times faster, or
    as fast as possible with speed 0. Data and metadata are sent unchanged; t_origin is the
    time of sending."""

    outputs = {}

    class Params(Params):
        path: InputPath = Field(description="recording written by `record`")
        speed: float = Field(1.0, ge=0, description="1 = original timing, N = N times faster, 0 = as fast as possible")
        loop: bool = Field(False, description="start again at the end")

    @classmethod
    def ports(cls, params: Params) -> tuple[dict[str, Port], dict[str, Port]]:
        path = Path(params.path)
        if not path.exists():
            raise FileNotFoundError(f"recording {path} does not exist")
        return {}, {name: Port(stream) for name, stream in streams_of(path).items()}

    def start(self) -> None:
        self.reader = Reader(self.params.path)
        self._restart()

    def _restart(self) -> None:
        self.chunks = iter(self.reader)
        self.pacer = Pacer(self.params.speed)
        self.pending = None
        self.t0 = math.nan

    def produce(self) -> dict | None:
        if self.pending is None:
            chunk = next(self.chunks, None)
            if chunk is None:
                if self.reader.torn:
                    self.count("torn_tail")
                if self.params.loop:
                    self._restart()
                    return None
                raise EndOfStream
            self.pending = chunk
        chunk = self.pending
        t = chunk.message.t_origin
        if not math.isfinite(t):
            t = chunk.t_received
        if not self.pacer.wait(t):
            return None
        self.pending = None
        msg = chunk.message.with_data(chunk.message.data)
        msg.t_origin = streams.now()
        return {chunk.name: msg}
