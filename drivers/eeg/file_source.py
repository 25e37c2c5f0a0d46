"""`eeg.file`: replays a recording, or several one after another, at their own pace,
faster, or as fast as possible."""
from __future__ import annotations

import math
import re
from typing import Union

from pydantic import Field, field_validator

from streamer import streams
from streamer.clock import Pacer
from streamer.node import EndOfStream, Params, Port, Source
from streamer.paths import InputPath
from streamer.streams import MARKER, SAMPLES

from .file_list import expand, file_labels
from .readers import Opened, RecordingError, open_recording
from .truncation import open_for_check


class FileSource(Source):
    """Replays any file MNE reads (EDF, BDF, GDF, FIF, BrainVision, EEGLAB, Persyst, ...)
    and MATLAB clips (`data` channels x samples, `freq`), in chunks of `chunk_ms`.

    Channel types are kept (eeg, seeg, ecog, ...), values are in volts. Each annotation
    becomes a Marker on `markers`, sent with the chunk that holds its onset sample: value and
    `sample` are the sample index from the start of the replay, time its onset in seconds,
    `duration` its duration. Non-finite samples are counted as `nan_samples`.

    `path` may list several files or glob patterns (numbers in names sorted by value:
    segment_2 before segment_10); they are replayed back to back as one stream whose
    sample indices keep counting, and must share the sampling rate and channels. No chunk
    spans two files. A truncated recording (shorter than its header declares) is refused
    unless `allow_truncated`. With `file_label`, each file's first sample gets a Marker labelled
    from its name (with `file`, its name, and `duration`, its length in seconds)."""

    outputs = {"out": Port(SAMPLES, "the signals, float32 (channels, samples)"),
               "markers": Port(MARKER, "annotations at their onset sample, file labels at each file's start")}

    class Params(Params):
        path: Union[InputPath, list[InputPath]] = Field(
            description="recording to replay, a glob pattern, or a list of them replayed in turn")
        speed: float = Field(1.0, ge=0, description="1 = real time, N = N times faster, 0 = as fast as possible")
        chunk_ms: float = Field(100.0, gt=0, description="duration of each chunk")
        loop: bool = Field(False, description="start again at the end (sample indices keep counting)")
        picks: list[str] | None = Field(None, description="channel names to keep, in this order")
        sfreq: float | None = Field(None, gt=0, description="sampling rate for files without one (MATLAB clips)")
        file_label: str | None = Field(
            None, description="regular expression searched in each file name; its first group (or "
                              "the match) labels a Marker at the file's first sample, e.g. "
                              "'_(ictal|interictal)_'")
        allow_truncated: bool = Field(
            False, description="replay what a truncated recording holds (a warning names the missing span) "
                               "instead of refusing it")
        shuffle_seed: int | None = Field(
            None, description="replay the files each glob pattern matches in a random order drawn with "
                              "this seed; the entries of `path` keep their order (default: sorted)")

        @field_validator("path")
        @classmethod
        def _some(cls, v: str | list[str]) -> str | list[str]:
            if v == []:
                raise ValueError("path is an empty list; give a recording, a list of them or a glob pattern")
            return v

        @field_validator("file_label")
        @classmethod
        def _regex(cls, v: str | None) -> str | None:
            if v is not None:
                try:
                    re.compile(v)
                except re.error as exc:
                    raise ValueError(f"{v!r} is not a regular expression: {exc}") from None
            return v

    @classmethod
    def check(cls, params: "FileSource.Params") -> list[tuple[str, str]]:
        """Every file's name must give its label (the files exist: the graph checked them),
        and no recording may be truncated unless `allow_truncated` (headers only)."""
        problems = []
        try:
            files = expand(params.path)
        except (OSError, ValueError):
            return []  # reported by the path check
        if params.file_label is not None:
            try:
                file_labels(files, params.file_label)
            except (OSError, ValueError) as exc:
                problems.append(("file_label", f"{exc}; change file_label or the files"))
        if not params.allow_truncated:
            for f in files:
                cut = open_for_check(f) if f.is_file() else None
                if cut is not None:
                    problems.append(("path", cut.error()))
        return problems

    def start(self) -> None:
        p = self.params
        self.files = expand(p.path, p.shuffle_seed)
        missing = [str(f) for f in self.files if not f.exists()]
        if missing and len(self.files) > 1:
            raise FileNotFoundError(f"no such recording: {', '.join(missing[:5])}"
                                    + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
        self.labels = file_labels(self.files, p.file_label) if p.file_label is not None else None
        self.file = 0
        self._open(0)
        self.first = self.rec            # the stream's sfreq and channels come from it
        self.chunk = max(1, int(round(p.chunk_ms * 1e-3 * self.rec.sfreq)))
        self.offset = 0       # samples replayed in earlier files and loops
        self.pacer = Pacer(p.speed)

    def _open(self, i: int) -> None:
        p = self.params
        rec = open_recording(self.files[i], p.sfreq, p.allow_truncated)
        names = rec.ch_names
        if p.picks:
            missing = [n for n in p.picks if n not in names]
            if missing:
                raise ValueError(f"{rec.path}: channels {missing} not found; it has {', '.join(names)}")
            self.idx = [names.index(n) for n in p.picks]
        else:
            self.idx = None
        if i > 0:
            self._check_like_first(rec)
        self.rec, self.file = rec, i
        self.pos = 0          # next sample in this file
        self.next_ann = 0
        self.label_sent = self.labels is None

    def _check_like_first(self, rec: Opened) -> None:
        first = self.first
        if not math.isclose(rec.sfreq, first.sfreq, rel_tol=1e-9):
            raise RecordingError(f"{rec.path}: sampling rate {rec.sfreq} Hz differs from {first.sfreq} Hz "
                                 f"of {first.path.name}; replay files of one rate together")
        if not self.params.picks and rec.ch_names != first.ch_names:
            raise RecordingError(f"{rec.path}: channels differ from those of {first.path.name}; "
                                 "give `picks` to replay the channels they share")

    def _pick(self, values: list) -> list:
        return values if self.idx is None else [values[i] for i in self.idx]

    def _next_file(self) -> None:
        self.offset += self.rec.n_samples
        nxt = self.file + 1
        if nxt == len(self.files):
            if not self.params.loop:
                raise EndOfStream
            nxt = 0
        if len(self.files) == 1:
            self.pos, self.next_ann, self.label_sent = 0, 0, self.labels is None
        else:
            self._open(nxt)

    def produce(self) -> dict | None:
        p = self.params
        if self.pos >= self.rec.n_samples:
            self._next_file()
        rec = self.rec
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
                                      t_first_s=first / rec.sfreq, first_sample=first, t_origin=t_origin,
                                      source=str(rec.path.name))}
        markers = []
        if not self.label_sent:
            self.label_sent = True
            markers.append(streams.marker(self.labels[self.file], self.offset, time_s=self.offset / rec.sfreq,
                                          source=rec.path.name, sample=self.offset, file=rec.path.name,
                                          duration=rec.n_samples / rec.sfreq, t_origin=t_origin))
        anns = rec.annotations
        while self.next_ann < len(anns) and anns[self.next_ann][0] < stop:
            sample, onset, duration, label = anns[self.next_ann]
            self.next_ann += 1
            if sample < start:
                continue  # before the first chunk (negative onsets)
            markers.append(streams.marker(label, self.offset + sample, time_s=(self.offset + sample) / rec.sfreq,
                                          source=rec.path.name, sample=self.offset + sample, duration=duration,
                                          t_origin=t_origin))
        if markers:
            out["markers"] = markers
        return out
