"""A native recording's Samples stream as an MNE Raw (its Markers as annotations), and
written as FIF (float32, exact) or EDF (16 bits per sample, EDF's resolution)."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from streamer import recording, streams
from streamer.formats import pick_stream
from streamer.streams import MARKER, SAMPLES, Message

from .mne_convert import to_raw

log = logging.getLogger("drivers.eeg.mne_export")

# What MNE calls the span of a recording that holds no data (a paused or lost part).
GAP_ANNOTATION = "BAD_ACQ_SKIP"


def raw_from_recording(source: str | Path, stream: str | None = None) -> "mne.io.RawArray":
    """The Samples stream `stream` (default: the only one) of a native recording as a
    RawArray, every Marker stream's markers as annotations.

    A marker is placed at its `sample` or, without one, at its `time_s` on the Samples
    stream's device clock (as eeg.file, eeg.synthetic and eeg.brainflow stamp them).
    Spans where samples are missing (a paused recorder, chunks lost on the way) are
    filled with zeros and annotated BAD_ACQ_SKIP, so every sample keeps its time."""
    path = Path(source)
    rec = recording.read(path, keep_messages=True)
    name = pick_stream(rec, SAMPLES, stream, path)
    chunks, gaps = _without_gaps(rec[name].messages)
    markers = [m for r in rec.values() if r.stream == MARKER for m in r.messages if _placeable(m)]
    raw = to_raw(chunks, markers)
    if gaps:
        sfreq = raw.info["sfreq"]
        first = int(chunks[0].meta.get("first_sample", 0))
        raw.annotations.append([(a - first) / sfreq for a, _ in gaps], [n / sfreq for _, n in gaps],
                               [GAP_ANNOTATION] * len(gaps))
    raw.info["description"] = f"streamer recording {path.name}, stream {name}"
    return raw


def _placeable(m: Message) -> bool:
    item = m.data
    t = item.get("time_s", math.nan)
    if "sample" in item or (isinstance(t, (int, float)) and math.isfinite(t)):
        return True
    log.warning("marker %r has neither a sample nor a time: left out", item.get("label"))
    return False


def _without_gaps(messages: list[Message]) -> tuple[list[Message], list[tuple[int, int]]]:
    """Consecutive chunks, zeros filling what is missing; and the gaps (first sample, count)."""
    out: list[Message] = []
    gaps: list[tuple[int, int]] = []
    expected = None
    for m in messages:
        first = int(m.meta.get("first_sample", expected if expected is not None else 0))
        if expected is not None and first > expected:
            n = first - expected
            fill = streams.samples(np.zeros((m.data.shape[0], n), np.float32), sfreq=m.meta["sfreq"],
                                   ch_names=m.meta["ch_names"], ch_types=m.meta.get("ch_types"),
                                   units=m.meta.get("units"), first_sample=expected,
                                   t_first_s=float(m.meta.get("t_first_s", 0.0)) - n / float(m.meta["sfreq"]))
            out.append(fill)
            gaps.append((expected, n))
        elif expected is not None and first < expected:
            raise ValueError(f"samples from {first} arrive after sample {expected}: the stream went back "
                             "(a restarted source?); convert the parts separately with --stream")
        out.append(m if "first_sample" in m.meta else m.with_data(m.data, first_sample=first))
        expected = first + m.data.shape[1]
    return out, gaps


def write_fif(source: str | Path, out: str | Path, *, stream: str | None = None,
              info: dict[str, Any] | None = None) -> Path:
    """The recording's Samples stream as FIF in float32 (samples exactly as recorded)."""
    raw = raw_from_recording(source, stream)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw.save(out, fmt="single", overwrite=True, verbose="error")
    return out


def write_edf(source: str | Path, out: str | Path, *, stream: str | None = None,
              info: dict[str, Any] | None = None) -> Path:
    """The recording's Samples stream as EDF (through MNE's exporter and edfio): 16 bits
    per sample over each channel's range, markers as EDF annotations."""
    import mne

    raw = raw_from_recording(source, stream)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(out, raw, fmt="edf", overwrite=True, verbose="error")
    return out
