"""Checks shared by the signal nodes: a clear `Rejected` when the input is not what they
need, raised before any state changes (the runtime counts it and the node goes on)."""
from __future__ import annotations

import math

import numpy as np

from streamer.node import Rejected
from streamer.streams import SAMPLES, Message

# Sampling rates the signal nodes take (1 µHz to 1 GHz): every length and time derived from
# one (samples per window, µs per sample) is then a number they can hold.
MIN_SFREQ, MAX_SFREQ = 1e-6, 1e9
# Sample indices and device times (µs) beyond 2^62 are not those of a stream; bounding them
# keeps every index and time in int64 (and on the wire).
MAX_INDEX = 1 << 62
# Values a node buffers at once (float32: 1 GiB), whatever window and sampling rate ask for.
MAX_BUFFER_VALUES = 1 << 28


def is_whole(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def require_samples(msg: Message, node: str) -> float:
    """The sampling rate of a Samples chunk; Rejected, naming the node and what to connect
    instead, when the message is another stream or lacks a usable sfreq/ch_names."""
    if msg.stream != SAMPLES:
        raise Rejected(f"{node} takes a Samples stream (channels, samples), got {msg.stream}; "
                       "connect it to a signal source (eeg.*) or a node that outputs Samples")
    data = msg.data
    if not isinstance(data, np.ndarray) or data.ndim != 2:
        raise Rejected(f"{node}: Samples data must be a 2-D array (channels, samples), "
                       f"got {getattr(data, 'shape', type(data).__name__)}")
    sfreq = msg.meta.get("sfreq")
    if not is_number(sfreq) or not MIN_SFREQ <= sfreq <= MAX_SFREQ:
        raise Rejected(f"{node}: the Samples chunk has no valid sfreq ({sfreq!r}); its source must set "
                       f"the sampling rate, between {MIN_SFREQ:g} and {MAX_SFREQ:g} Hz")
    names = msg.meta.get("ch_names")
    if not isinstance(names, (list, tuple)) or len(names) != data.shape[0]:
        raise Rejected(f"{node}: {data.shape[0]} channels but ch_names is {names!r}")
    return float(sfreq)


def first_sample(msg: Message, node: str, sfreq: float) -> int:
    """The chunk's `first_sample` (0 when the stream does not number its samples); Rejected
    unless it is a whole number whose time fits a stream's."""
    v = msg.meta.get("first_sample", 0)
    if not is_whole(v) or abs(v) > MAX_INDEX or abs(v) / sfreq * 1e6 > MAX_INDEX:
        raise Rejected(f"{node}: first_sample must be the index of the chunk's first sample since the "
                       f"stream began, got {v!r} at {sfreq:g} Hz; fix the stream's source")
    return int(v)


def t_first_s(msg: Message, node: str) -> float:
    """The device time (s) of the chunk's first sample (0 when the stream does not say)."""
    v = msg.meta.get("t_first_s", 0.0)
    if not is_number(v) or not math.isfinite(v) or abs(v) * 1e6 > MAX_INDEX:
        raise Rejected(f"{node}: t_first_s must be the device time (s) of the chunk's first sample, "
                       f"got {v!r}; fix the stream's source")
    return float(v)


def channel_list(meta: dict, key: str, default: str) -> list[str]:
    """The stream's ch_types or units (optional in Samples), `default` for each channel
    when it does not give them."""
    values = meta.get(key)
    return list(values) if values is not None else [default] * len(meta["ch_names"])


def buffer_fits(node: str, n_ch: int, n_samples: int, what: str) -> None:
    """Refuse a buffer larger than MAX_BUFFER_VALUES before allocating it."""
    if n_ch * n_samples > MAX_BUFFER_VALUES:
        raise Rejected(f"{node}: {what} of {n_samples} samples x {n_ch} channels is more than the "
                       f"{MAX_BUFFER_VALUES} values held at once; shorten it or resample the stream first")


def as_signal(x: object, who: str) -> np.ndarray:
    """The plain functions' input: a 2-D (channels, samples) array, as float32 like a
    Samples stream; a TypeError says what to pass otherwise."""
    a = np.asarray(x)
    if a.ndim != 2 or a.dtype.kind not in "biuf":
        raise TypeError(f"{who}: the signal must be a 2-D numeric array (channels, samples), got "
                        f"{a.dtype} of shape {a.shape}; a single channel is x[None]")
    return np.ascontiguousarray(a, dtype=np.float32)
