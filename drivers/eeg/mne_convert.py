"""Samples <-> MNE: `mne.Info` from a stream's metadata, `mne.io.RawArray` from a list
of chunks (with Markers as annotations), and chunks from any `mne.io.Raw`.

Channel types travel both ways unchanged (eeg, seeg, ecog, emg, misc...), values are in
volts on both sides (MNE's unit for every electrophysiological type).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from streamer import streams
from streamer.streams import MARKER, SAMPLES, Message

# Types whose values are voltages; everything else is passed through as it is.
VOLT_TYPES = frozenset({"eeg", "seeg", "ecog", "dbs", "eog", "emg", "ecg", "bio"})


def units_for(ch_types: Sequence[str]) -> list[str]:
    return ["V" if t in VOLT_TYPES else "n/a" for t in ch_types]


def to_info(meta: dict) -> "mne.Info":
    """An `mne.Info` (names, sfreq, types) from the metadata of a Samples message."""
    import mne

    names, types = list(meta["ch_names"]), list(meta.get("ch_types") or ["eeg"] * len(meta["ch_names"]))
    if len(types) != len(names):
        raise ValueError(f"{len(names)} channel names but {len(types)} channel types")
    valid = set(mne.io.get_channel_type_constants())
    bad = [(n, t) for n, t in zip(names, types) if t not in valid]
    if bad:
        raise ValueError(f"channel types not known to MNE: {bad}; use one of {', '.join(sorted(valid))}")
    sfreq = float(meta["sfreq"])
    if not sfreq > 0:
        raise ValueError(f"MNE needs a positive sampling rate; this stream has sfreq={sfreq}")
    return mne.create_info(names, sfreq, types)


def to_raw(messages: Iterable[Message], markers: Iterable[Message] = ()) -> "mne.io.RawArray":
    """Concatenate consecutive Samples chunks into a RawArray; Markers become annotations.

    A marker is placed at its `sample` (or `value` when it is the sample index eeg.file and
    eeg.synthetic send), else at its `time_s` relative to the first chunk's `t_first_s`. Raises
    if chunks are not consecutive (a gap or a change of channels).
    """
    import mne

    chunks = [m for m in messages if m.stream == SAMPLES]
    if not chunks:
        raise ValueError("to_raw: no Samples messages given")
    meta = chunks[0].meta
    expected = int(meta.get("first_sample", 0))
    for m in chunks:
        if m.meta["ch_names"] != meta["ch_names"]:
            raise ValueError(f"to_raw: channels change at sample {m.meta.get('first_sample')}")
        if int(m.meta.get("first_sample", expected)) != expected:
            raise ValueError(f"to_raw: gap in the stream: expected sample {expected}, "
                             f"got {m.meta['first_sample']}")
        expected += m.data.shape[1]
    data = np.concatenate([m.data for m in chunks], axis=1).astype(np.float64)
    raw = mne.io.RawArray(data, to_info(meta), verbose="error")
    first = int(meta.get("first_sample", 0))
    sfreq = float(meta["sfreq"])
    onsets, durations, labels = [], [], []
    for mk in markers:
        if mk.stream != MARKER:
            continue
        item = mk.data
        if "sample" in item:
            onset = (int(item["sample"]) - first) / sfreq
        elif math.isfinite(item.get("time_s", math.nan)):
            onset = float(item["time_s"]) - float(meta.get("t_first_s", 0.0))
        else:
            raise ValueError(f"to_raw: marker {item['label']!r} has neither a sample nor a time")
        onsets.append(onset)
        durations.append(float(item.get("duration", 0.0)))
        labels.append(str(item["label"]))
    if onsets:
        raw.set_annotations(mne.Annotations(onsets, durations, labels))
    return raw


def from_raw(raw: "mne.io.BaseRaw", start: int = 0, stop: int | None = None,
             picks: Sequence[str] | None = None, t_origin: float | None = None) -> Message:
    """One Samples chunk holding samples [start, stop) of a Raw (lazy Raws read only those)."""
    stop = raw.n_times if stop is None else stop
    if not 0 <= start <= stop <= raw.n_times:
        raise ValueError(f"from_raw: samples [{start}, {stop}) outside the recording (0..{raw.n_times})")
    idx = list(range(len(raw.ch_names))) if picks is None else _indices(raw.ch_names, picks)
    types = raw.get_channel_types(picks=idx)
    sfreq = float(raw.info["sfreq"])
    return streams.samples(raw.get_data(picks=idx, start=start, stop=stop), sfreq=sfreq,
                           ch_names=[raw.ch_names[i] for i in idx], ch_types=types, units=units_for(types),
                           t_first_s=start / sfreq, first_sample=start, t_origin=t_origin)


def _indices(names: Sequence[str], picks: Sequence[str]) -> list[int]:
    missing = [p for p in picks if p not in names]
    if missing:
        raise ValueError(f"channels {missing} not found; the recording has {', '.join(names)}")
    return [list(names).index(p) for p in picks]
