"""`eeg.file`: replays a recording at its own pace, faster, or as fast as possible."""
from __future__ import annotations

import math

from pydantic import Field

from streamer import streams
from streamer.clock import Pacer
from streamer.node import EndOfStream, Params, Port, Source
from streamer.streams import MARKER, SAMPLES

from .readers import open_recording


class FileSource(Source):
    """Replays any file MNE reads (EDF, BDF, GDF, FIF, BrainVision, EEGLAB, Persyst, ...)
    and MATLAB clips (`data` channels x samples, `freq`), in chunks of `chunk_ms`.

    Channel types are kept (eeg, seeg, ecog, ...), values are in volts. Each annotation
    becomes a Marker on `markers`, sent with the chunk that holds its onset sample: value and
    `sample` are the sample index from the start of the replay, time its onset in seconds,
    `duration` its duration. Non-finite samples are counted as `nan_samples`."""

    outputs = {"out": Port(SAMPLES, "the signals, float32 (channels, samples)"),
               "markers": Port(MARKER, "annotations at their onset sample")}

    class Params(Params):
        path: str = Field(description="recording to replay")
        speed: float = Field(1.0, ge=0, description="1 = real time, N = N times faster, 0 = as fast as possible")
        chunk_ms: float = Field(100.0, gt=0, description="duration of each chunk")
        loop: bool = Field(False, description="start again at the end (sample indices keep counting)")
        picks: list[str] | None = Field(None, description="channel names to keep, in this order")
        sfreq: float | None = Field(None, gt=0, description="sampling rate for files without one (MATLAB clips)")

    def start(self) -> None:
        p = self.params
        self.rec = open_recording(p.path, p.sfreq)
        names = self.rec.ch_names
        if p.picks:
            missing = [n for n in p.picks if n not in names]
            if missing:
                raise ValueError(f"{p.path}: channels {missing} not found; it has {', '.join(names)}")
            self.idx = [names.index(n) for n in p.picks]
        else:
            self.idx = None
        self.chunk = max(1, int(round(p.chunk_ms * 1e-3 * self.rec.sfreq)))
        self.pos = 0          # next sample in the file
        self.offset = 0       # samples replayed in earlier loops
        self.next_ann = 0
        self.pacer = Pacer(p.speed)

    def _pick(self, values: list) -> list:
        return values if self.idx is None else [values[i] for i in self.idx]

    def produce(self) -> dict | None:
        rec, p = self.rec, self.params
        if self.pos >= rec.n_samples:
            if not p.loop:
                raise EndOfStream
            self.offset += rec.n_samples
            self.pos, self.next_ann = 0, 0
        start, stop = self.pos, min(self.pos + self.chunk, rec.n_samples)
        first = self.offset + start
        # A chunk leaves when its last sample would have been acquired.
        if not self.pacer.wait((self.offset + stop - 1) / rec.sfreq):
            return None
        data = rec.read(start, stop)
        if self.idx is not None:
            data = data[self.idx]
        if not math.isfinite(float(data.sum())):
            self.count("nan_samples", int((~(data == data)).sum()))
        self.pos = stop
        t_origin = streams.now()
        out = {"out": streams.samples(data, sfreq=rec.sfreq, ch_names=self._pick(rec.ch_names),
                                      ch_types=self._pick(rec.ch_types), units=self._pick(rec.units),
                                      t_first=first / rec.sfreq, first_sample=first, t_origin=t_origin,
                                      source=str(rec.path.name))}
        markers = []
        anns = rec.annotations
        while self.next_ann < len(anns) and anns[self.next_ann][0] < stop:
            sample, onset, duration, label = anns[self.next_ann]
            self.next_ann += 1
            if sample < start:
                continue  # before the first chunk (negative onsets)
            markers.append(streams.marker(label, self.offset + sample, time=(self.offset + sample) / rec.sfreq,
                                          source=rec.path.name, sample=self.offset + sample, duration=duration,
                                          t_origin=t_origin))
        if markers:
            out["markers"] = markers
        return out
