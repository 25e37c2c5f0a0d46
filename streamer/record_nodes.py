"""The `record` sink and the `replay` source."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import formats, streams
from .clock import Pacer
from .node import WILDCARD, EndOfStream, Params, Port, Rejected, Sink, Source
from .paths import InputPath, OutputPath
from .recording import Chunk, Reader, RecordingError, Writer, streams_of
from .streams import ANY, Message

log = logging.getLogger("streamer.replay")
FORMAT_NAMES = Literal["native", "xdf", "bids", "fif", "edf", "aedat4", "evt3"]


class BidsEntities(BaseModel):
    """Where a recording goes in a BIDS dataset (a session runner fills these)."""

    model_config = ConfigDict(extra="forbid")
    root: OutputPath = Field(description="the dataset's root folder")
    subject: str = Field(description="subject label (letters and digits), e.g. 01")
    task: str = Field(description="task label, e.g. motorimagery")
    session: str | None = Field(None, description="session label, e.g. 02")
    run: int | None = Field(None, ge=0, description="run number")
    line_freq_hz: float | None = Field(None, gt=0, description="mains frequency for the sidecar (50 or 60)")


class Record(Sink):
    """Writes every stream it receives to one recording file as it arrives.

    Each input port is one named stream of the recording: `camera -> rec.events`,
    `eeg.markers -> rec.markers`. Chunks reach the kernel as they arrive, so a killed
    process loses nothing it wrote; read it back with `streamer.recording.read(path)`.
    The file is replaced when the run starts; a recorder restarted by the runtime
    (`on_failure: restart`) appends to it, so nothing recorded before the crash is lost.

    A Command `record` on the port `control` (the console's recording switch) stops
    (value false) or resumes (true) writing the other streams; the commands themselves and
    the console's markers (`console_markers`) are always written, so the file shows when
    and why it has a gap (chunks left out: counter `paused_chunks`).

    `format` other than native (xdf, bids, fif, edf, aedat4, evt3): `path` is still written
    as it arrives (the crash-safe copy) and converted when the recorder closes, in a
    process of its own that outlives the run (`streamer.formats.wait(path)` waits for it;
    its outcome is in `<path>.convert.json`). The converted file goes to `out` (default:
    beside `path` with the format's suffix); BIDS to `bids.root`, entities from `bids`.
    If the conversion fails or never runs, `streamer convert PATH --to FORMAT` redoes it
    from the native file."""

    optional = True
    control_inputs = ("control",)
    ALWAYS = ("control", "console_markers")
    default_on_failure = "detach"
    stop_drain_s = 0.5  # on a stop, record the last words of the nodes (the gate's safe command)
    inputs = {WILDCARD: Port(ANY, "any stream; the port name is the stream's name in the file")}

    class Params(Params):
        path: OutputPath = Field(description="recording file to write (replaced when the run starts)")
        fsync: Literal["periodic", "chunk", "never"] = Field(
            "periodic", description="force the file to the disk every fsync_interval_s (a power cut loses at "
                                    "most that much), after every chunk (slowest), or never (the kernel decides)")
        fsync_interval_s: float = Field(1.0, gt=0, description="seconds between forced writes when periodic")
        format: FORMAT_NAMES = Field("native", description="also write this standard format when the run ends: "
                                     "xdf (every stream), bids/fif/edf (a Samples stream with its markers), "
                                     "aedat4/evt3 (an Events stream)")
        out: OutputPath | None = Field(None, description="file of the standard format (default: beside `path` "
                                       "with its suffix); BIDS goes to bids.root")
        stream: str | None = Field(None, description="the stream a one-stream format writes (default: the only "
                                   "one of its type)")
        bids: BidsEntities | None = Field(None, description="BIDS root, subject, task, session, run "
                                          "(required with format bids; XDF keeps them in its header)")

        @model_validator(mode="after")
        def _bids_given(self) -> "Record.Params":
            if self.format == "bids" and self.bids is None:
                raise ValueError("format bids needs `bids: {root: ..., subject: ..., task: ...}` "
                                 "(session and run optional)")
            return self

        @field_validator("fsync", mode="before")
        @classmethod
        def _from_bool(cls, v: Any) -> Any:
            # Graphs of earlier releases said `fsync: true` for every chunk, false for none.
            if isinstance(v, bool):
                return "chunk" if v else "never"
            return v

    def start(self) -> None:
        p = self.params
        self.writer = Writer(p.path, append=self.incarnation > 0, fsync=p.fsync, fsync_interval_s=p.fsync_interval_s)
        if self.writer.appended:
            self.details["appended"] = f"restarted recorder appending to {p.path}"
        self.counters["bytes_written"] = self.writer.bytes  # visible from the start
        self.paused = False

    def receive(self, port: str, msg: Message) -> None:
        if port == "control" and isinstance(msg.data, dict) and msg.data.get("action") == "record":
            self.paused = not bool(msg.data.get("value"))
            self.counters["recording"] = "paused" if self.paused else "on"
            log.info("%s: recording %s by the operator", self.name, "paused" if self.paused else "resumed")
        elif self.paused and port not in self.ALWAYS:
            self.count("paused_chunks")
            return
        try:
            self.writer.write(port, msg, streams.now())
        except RecordingError as exc:
            raise Rejected(str(exc)) from None
        self.counters["bytes_written"] = self.writer.bytes
        self.counters["fsyncs"] = self.writer.syncs
        self.counters["fsync_max_ms"] = round(self.writer.sync_max_s * 1e3, 3)

    def stop(self) -> None:
        if hasattr(self, "writer"):
            self.writer.close()
            if self.params.format != "native":
                self._convert()

    def _convert(self) -> None:
        p = self.params
        info = p.bids.model_dump(exclude_none=True) if p.bids else {}
        out = p.bids.root if p.format == "bids" else p.out
        job = formats.convert_in_background(p.path, p.format, out, stream=p.stream, info=info)
        log.info("%s: converting %s to %s in process %d (outcome in %s)", self.name, p.path, p.format, job.pid,
                 formats.status_path(p.path))


class Replay(Source):
    """Plays a recording back: each stream on the output port of its name, with the
    original intervals between messages (from their t_origin), `speed` times faster, or
    as fast as possible with speed 0. Data and metadata are sent unchanged; t_origin is the
    time of sending. Damaged parts of the file are skipped and counted (`skipped_parts`,
    `skipped_bytes`), and so are intact chunks whose stream type differs from the first
    chunk of their stream (`skipped_chunks`)."""

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
        self.stream_of = {name: port.stream for name, port in self.output_ports.items()}
        self.passes = 0
        self.chunks = None
        self._restart()

    def _restart(self) -> None:
        if self.chunks is not None:
            self.chunks.close()
        self.chunks = self.reader.chunks()
        self.passes += 1
        self.reported = 0
        self.pacer = Pacer(self.params.speed)
        self.pending: Chunk | None = None

    def _next(self) -> Chunk | None:
        """The next chunk to send: intact, and of its port's stream type."""
        while True:
            chunk = next(self.chunks, None)
            skipped = self.reader.skipped
            if len(skipped) > self.reported and self.passes == 1:  # counted once, not on every loop
                for part in skipped[self.reported:]:
                    self.count("skipped_parts")
                    self.count("skipped_bytes", part.end - part.offset)
                    log.warning("%s: %s; replay goes on with the next intact chunk", self.reader.path, part)
            self.reported = len(skipped)
            if chunk is None or self.stream_of.get(chunk.name) == chunk.message.stream:
                return chunk
            if self.passes == 1:
                self.count("skipped_chunks")

    def produce(self) -> dict | None:
        if self.pending is None:
            chunk = self._next()
            if chunk is None:
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
        msg = chunk.message  # read for this pass alone: sent as it is, stamped now
        msg.t_origin = streams.now()
        return {chunk.name: msg}

    def stop(self) -> None:
        if getattr(self, "chunks", None) is not None:
            self.chunks.close()
