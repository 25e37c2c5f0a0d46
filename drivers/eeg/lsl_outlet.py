"""`lsl.out`: publish a stream on the Lab Streaming Layer (for LabRecorder, OpenViBE,
BCI2000, or another machine's `eeg.lsl`)."""
from __future__ import annotations

import json
import math
from typing import Literal

import numpy as np
from pydantic import Field

from streamer.node import Params, Port, Rejected, Sink
from streamer.streams import COMMAND, DECISION, MARKER, SAMPLES, Message

from .lsl_meta import UNIT_NAMES, clock_offset, write_channels
from .mne_convert import VOLT_TYPES

DEFAULT_TYPES = {SAMPLES: "EEG", MARKER: "Markers", DECISION: "Decisions", COMMAND: "Commands"}


class LSLOutlet(Sink):
    """Publishes what it receives as one LSL stream, created at the first message.

    Samples become a float32 stream with the channel labels, types and units in the
    stream's description (voltages in `unit`, microvolts by default as LSL tools expect).
    Markers, Decisions and Commands become an irregular string stream: the marker label,
    or the whole item as JSON (`item_format`). Timestamps: `origin` stamps the newest
    sample of each chunk with its acquisition time `t_origin` (LSL's clock is the host
    monotonic clock), `times` sends each sample's own timestamp (`arrays["times"]`, as
    eeg.lsl gives them), `now` the time of sending. LSL keeps nothing for consumers that
    connect later: what is pushed while none is connected is counted as `without_consumer`
    (`wait_for_consumer_s` holds the first push until one connects)."""

    inputs = {"in": Port((SAMPLES, MARKER, DECISION, COMMAND))}

    class Params(Params):
        name: str = Field("streamer", description="LSL stream name")
        stream_type: str = Field("", description="LSL stream type (default: EEG, Markers, Decisions or Commands)")
        source_id: str = Field("", description="unique source id (default: name and type), lets inlets reconnect")
        unit: Literal["microvolts", "millivolts", "volts"] = Field("microvolts",
                                                                   description="unit of voltage channels")
        item_format: Literal["auto", "label", "json"] = Field(
            "auto", description="string sent per item: marker label, or JSON (auto: label for Markers)")
        timestamps: Literal["origin", "times", "now"] = Field("origin", description="what stamps each sample")
        chunk_size: int = Field(0, ge=0, description="samples per network chunk (0: as pushed)")
        max_buffered_s: int = Field(360, gt=0, description="data kept for slow consumers (s)")
        wait_for_consumer_s: float = Field(0.0, ge=0, description="before the first push, wait this long for "
                                           "a consumer so that the start is not lost")

    def start(self) -> None:
        self.outlet = None
        self.stream: str | None = None
        self.offset = clock_offset()

    def _open(self, msg: Message) -> None:
        import pylsl

        p = self.params
        self.stream = msg.stream
        stype = p.stream_type or DEFAULT_TYPES[msg.stream]
        source_id = p.source_id or f"{p.name}/{stype}"
        if msg.stream == SAMPLES:
            meta = msg.meta
            self.ch_names = list(meta["ch_names"])
            types = list(meta.get("ch_types") or ["eeg"] * len(self.ch_names))
            volts = np.array([t in VOLT_TYPES for t in types])
            self.scale = np.where(volts, 1.0 / UNIT_NAMES[p.unit], 1.0).astype(np.float32)
            self.rescale = bool(np.any(self.scale != 1.0))
            info = pylsl.StreamInfo(p.name, stype, len(self.ch_names), float(meta["sfreq"]),
                                    pylsl.cf_float32, source_id)
            write_channels(info, self.ch_names, types, [p.unit if v else "none" for v in volts])
        else:
            info = pylsl.StreamInfo(p.name, stype, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id)
            self.as_json = p.item_format == "json" or (p.item_format == "auto" and msg.stream != MARKER)
        info.desc().append_child("acquisition").append_child_value("manufacturer", "streamer")
        self.outlet = pylsl.StreamOutlet(info, p.chunk_size, p.max_buffered_s)
        if p.wait_for_consumer_s > 0 and not self.outlet.wait_for_consumers(p.wait_for_consumer_s):
            self.count("no_consumer")

    def _stamp(self, msg: Message) -> float:
        import pylsl

        if self.params.timestamps == "origin" and math.isfinite(msg.t_origin):
            return msg.t_origin + self.offset
        return pylsl.local_clock()

    def receive(self, port: str, msg: Message) -> None:
        if msg.stream == SAMPLES and self.params.timestamps == "times" and "times" not in msg.arrays:
            raise Rejected(f"lsl.out {self.params.name!r}: timestamps: times needs per-sample "
                           "times (arrays['times']); this stream has none, use origin")
        if self.outlet is None:
            self._open(msg)
        elif msg.stream != self.stream:
            raise Rejected(f"lsl.out {self.params.name!r} publishes one {self.stream} stream and received a "
                           f"{msg.stream}; use one lsl.out per stream")
        if msg.stream == SAMPLES:
            self._push_samples(msg)
        else:
            item = msg.data
            text = json.dumps(item, default=str) if self.as_json else str(item.get("label", item.get("action")))
            self.outlet.push_sample([text], self._stamp(msg))
        self.count("sent", msg.items)
        if not self.outlet.have_consumers():  # LSL keeps nothing for consumers yet to come
            self.count("without_consumer", msg.items)

    def _push_samples(self, msg: Message) -> None:
        if list(msg.meta["ch_names"]) != self.ch_names:
            raise Rejected(f"lsl.out {self.params.name!r}: channels changed mid-stream "
                           f"({len(self.ch_names)} -> {len(msg.meta['ch_names'])}); an LSL stream's layout is fixed")
        data = msg.data.T  # LSL wants (samples, channels); copied once below
        if self.rescale:
            data = data * self.scale
        data = np.ascontiguousarray(data, dtype=np.float32)
        if self.params.timestamps == "times":
            self.outlet.push_chunk(data, np.asarray(msg.arrays["times"], np.float64).tolist())
        else:
            self.outlet.push_chunk(data, self._stamp(msg))

    def stop(self) -> None:
        self.outlet = None  # liblsl closes the outlet when the object goes
