"""`eeg.lsl`: receive a Lab Streaming Layer stream (any amplifier with an LSL app, or
another program's markers)."""
from __future__ import annotations

import json
import logging
import math

import numpy as np
from pydantic import Field, model_validator

from streamer import streams
from streamer.node import Params, Port, Source
from streamer.streams import MARKER, SAMPLES

from .lsl_gaps import GapCounter
from .lsl_meta import MARKER_TYPES, clock_offset, read_channels

log = logging.getLogger(__name__)


class LSLInlet(Source):
    """Receives one LSL stream, found by `name`, `type` and/or `source_id` (all that are
    given must match). Numeric streams become Samples in volts (channel labels, types and
    units from the stream's description), with each sample's LSL timestamp in
    `arrays["times"]` and `t_first_s` the first one. String streams, and streams of type
    Markers, become Markers (JSON objects with a `label` are unpacked) timed by LSL.
    LSL's processing (clock synchronisation, dejittering, monotonic timestamps) is chosen
    by flags. With clocksync on, `t_origin` is the LSL time of the newest sample (LSL's
    clock is the host monotonic clock), so latency includes the network.

    Nothing is lost in silence: on a regular stream, samples missing between the stamps
    of those received (an overflowing LSL buffer, a reconnection) are counted as
    `missing_samples` in `gaps` (drivers/eeg/lsl_gaps.py): a step longer than a sample
    period that later stamps do not make up for within `gap_settle_s`."""

    outputs = {"out": Port(SAMPLES, "numeric streams"), "markers": Port(MARKER, "string / marker streams")}

    class Params(Params):
        name: str = Field("", description="stream name to resolve")
        stream_type: str = Field("", description="LSL stream type to resolve (EEG, Markers, ...)")
        source_id: str = Field("", description="source id to resolve")
        timeout_s: float = Field(5.0, gt=0, description="how long to look for the stream")
        clocksync: bool = Field(True, description="map timestamps to this host's clock")
        dejitter: bool = Field(False, description="smooth timestamps of regular streams")
        monotonize: bool = Field(False, description="force increasing timestamps")
        threadsafe: bool = Field(False, description="thread-safe post-processing")
        max_buffered_s: int = Field(360, gt=0, description="inlet buffer (s, or x100 samples if irregular)")
        max_chunk: int = Field(4096, gt=0, description="most samples per message")
        gap_settle_s: float = Field(1.0, gt=0, description="windows (s of samples) whose lowest timestamp "
                                    "offset is compared: a rise counts as missing samples; chunks stamped "
                                    "late within a window are no loss")
        channel_type: str = Field("eeg", description="MNE type for channels whose type is not given")

        @model_validator(mode="after")
        def _terms(self) -> "LSLInlet.Params":
            terms = {"name": self.name, "stream_type": self.stream_type, "source_id": self.source_id}
            if not any(terms.values()):
                raise ValueError("give the stream's name, stream_type or source_id")
            quoted = [k for k, v in terms.items() if "'" in v]
            if quoted:
                raise ValueError(f"{', '.join(quoted)} must not contain a quote")
            return self

    def start(self) -> None:
        import pylsl

        p = self.params
        terms = {k: v for k, v in (("name", p.name), ("type", p.stream_type), ("source_id", p.source_id)) if v}
        pred = " and ".join(f"{k}='{v}'" for k, v in terms.items())
        found = pylsl.resolve_bypred(pred, 1, p.timeout_s)
        if not found:
            seen = [f"{s.name()} ({s.type()}, {s.source_id() or 'no source id'})"
                    for s in pylsl.resolve_streams(0.5)]
            raise ConnectionError(f"eeg.lsl: no LSL stream with {pred} found in {p.timeout_s:g} s; "
                                  f"visible: {', '.join(seen) if seen else 'none'}")
        flags = ((pylsl.proc_clocksync if p.clocksync else 0) | (pylsl.proc_dejitter if p.dejitter else 0)
                 | (pylsl.proc_monotonize if p.monotonize else 0) | (pylsl.proc_threadsafe if p.threadsafe else 0))
        self.inlet = pylsl.StreamInlet(found[0], max_buflen=p.max_buffered_s, processing_flags=flags)
        info = self.inlet.info(p.timeout_s)
        self.inlet.open_stream(p.timeout_s)
        self.stream_name = info.name()
        self.sfreq = float(info.nominal_srate())
        self.is_marker = (info.channel_format() == pylsl.cf_string
                          or info.type().strip().lower() in MARKER_TYPES)
        self.names, self.types, scale = read_channels(info, p.channel_type)
        self.scale = np.asarray(scale, np.float64)[:, None]
        self.units = ["V" if s != 1.0 or t in ("eeg", "seeg", "ecog", "emg", "eog", "ecg") else "n/a"
                      for s, t in zip(scale, self.types)]
        self.string = info.channel_format() == pylsl.cf_string
        # LSL timestamps are on the host monotonic clock (shifted by this offset) once synced.
        self.offset = clock_offset() if p.clocksync else math.nan
        self.sent = 0
        self.gap_counter = None
        if self.sfreq > 0 and not self.is_marker:
            self.gap_counter = GapCounter(self.sfreq, p.gap_settle_s)
            self.count("gaps", 0)  # shown from the start: zero is a figure too
            self.count("missing_samples", 0)

    def produce(self) -> dict | None:
        samples, ts = self.inlet.pull_chunk(timeout=0.05, max_samples=self.params.max_chunk, min_samples=1,
                                            as_numpy=not self.string)
        if len(ts) == 0:
            return None
        ts = np.asarray(ts, dtype=np.float64)
        received = streams.now()
        t_origin = float(ts[-1]) - self.offset if math.isfinite(self.offset) else received
        if not received - 3600.0 < t_origin <= received + 0.01:
            t_origin = received  # a sender stamping with another clock (device or wall time)
        if self.is_marker:
            return {"markers": [self._marker(s, float(t), t_origin) for s, t in zip(samples, ts)]}
        if self.gap_counter is not None:
            self._count_gaps(*self.gap_counter.update(ts))
        data = np.asarray(samples).T
        if np.any(self.scale != 1.0):
            data = data * self.scale
        out = streams.samples(data, sfreq=self.sfreq, ch_names=self.names, ch_types=self.types,
                              units=self.units, t_first_s=float(ts[0]), first_sample=self.sent, times=ts,
                              t_origin=t_origin, source=self.stream_name)
        self.sent += ts.size
        return {"out": out}

    def _marker(self, sample, t: float, t_origin: float) -> streams.Message:
        first = sample[0]
        if isinstance(first, str):
            if first.startswith("{"):
                try:
                    item = json.loads(first)
                except ValueError:
                    item = None
                if isinstance(item, dict) and "label" in item:
                    extra = {k: v for k, v in item.items() if k not in ("label", "value", "time_s", "source")}
                    return streams.marker(item["label"], item.get("value"), time_s=t, source=self.stream_name,
                                          t_origin=t_origin, **extra)
            value = list(sample[1:]) if len(sample) > 1 else None
            return streams.marker(first, value, time_s=t, source=self.stream_name, t_origin=t_origin)
        value = float(first)
        return streams.marker(f"{value:g}", value, time_s=t, source=self.stream_name, t_origin=t_origin)

    def _count_gaps(self, gaps: int, missing: int) -> None:
        if gaps:
            self.count("gaps", gaps)
            self.count("missing_samples", missing)
            log.warning("eeg.lsl %s: %d sample(s) missing in %d gap(s) of the stream's timestamps "
                        "(%d missing in all)", self.stream_name, missing, gaps, self.counters["missing_samples"])

    def stop(self) -> None:
        if getattr(self, "gap_counter", None) is not None:
            self._count_gaps(*self.gap_counter.flush())
        inlet = getattr(self, "inlet", None)
        if inlet is not None:
            inlet.close_stream()
            self.inlet = None
