"""Stream types and the in-process message that carries one chunk of a stream.

A `Message` is what nodes receive and return. Array streams (Events, Samples, Frames,
Spikes) carry a NumPy array in `data`; item streams (Decision, Marker, Command) carry one
dict. `t_origin` is the host monotonic time (`time.monotonic()`, seconds) at which the
newest data in the chunk was acquired; drivers set it, every other node passes it on.
Device timestamps stay in the payload.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import numpy as np

EVENTS = "Events"
SAMPLES = "Samples"
FRAMES = "Frames"
SPIKES = "Spikes"
DECISION = "Decision"
MARKER = "Marker"
COMMAND = "Command"
ANY = "Any"

ARRAY_STREAMS = (EVENTS, SAMPLES, FRAMES, SPIKES)
ITEM_STREAMS = (DECISION, MARKER, COMMAND)
STREAM_TYPES = ARRAY_STREAMS + ITEM_STREAMS

# Metavision's field names; p is 0 (OFF) or 1 (ON), t in microseconds.
EVENT_DTYPE = np.dtype(
    {"names": ["x", "y", "p", "t"], "formats": ["<u2", "<u2", "i1", "<i8"],
     "offsets": [0, 2, 4, 8], "itemsize": 16}
)


def now() -> float:
    """Host monotonic time in seconds, the clock of `t_origin` (shared by all processes)."""
    return time.monotonic()


@dataclass
class Message:
    """One chunk of a stream, as nodes see it."""

    stream: str
    data: Any
    meta: dict = field(default_factory=dict)
    t_origin: float = math.nan
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seq: int = -1  # set by the transport; per edge, consecutive

    def with_data(self, data: Any, **meta: Any) -> "Message":
        """A message of the same stream and origin time with new data (and meta updates)."""
        new_meta = dict(self.meta)
        new_meta.update(meta)
        return replace(self, data=data, meta=new_meta, arrays=dict(self.arrays), seq=-1)

    @property
    def items(self) -> int:
        """How many items the chunk holds: events, samples (per channel), frames, or 1."""
        if self.stream in ITEM_STREAMS:
            return 1
        data = self.data
        if not isinstance(data, np.ndarray):
            return 0
        if self.stream == SAMPLES:
            return int(data.shape[-1]) if data.ndim else 0
        return int(data.shape[0]) if data.ndim else 1


def empty_events(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=EVENT_DTYPE)


def as_events(x: Any, y: Any, p: Any, t: Any) -> np.ndarray:
    """Pack separate columns into an Events array."""
    ev = np.empty(len(t), dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = x, y, p, t
    return ev


def events(data: np.ndarray, *, width: int, height: int, t_origin: float | None = None,
           clock: str = "device", **meta: Any) -> Message:
    """An Events chunk: a structured array of EVENT_DTYPE (t in µs of the device clock).

    A source may add `t_end_us`: the stream is complete up to that device time, so nodes
    that wait for time to pass (binning) can move on even when no event comes."""
    if data.dtype != EVENT_DTYPE:
        raise TypeError(f"Events data must have dtype EVENT_DTYPE, got {data.dtype}")
    return Message(EVENTS, data, {"width": int(width), "height": int(height), "clock": clock, **meta},
                   now() if t_origin is None else t_origin)


def samples(data: np.ndarray, *, sfreq: float, ch_names: Sequence[str],
            ch_types: Sequence[str] | None = None, units: Sequence[str] | None = None,
            t_first: float = 0.0, first_sample: int = 0, t_origin: float | None = None,
            times: np.ndarray | None = None, **meta: Any) -> Message:
    """A Samples chunk: float32 (channels, samples).

    `t_first` is the device time (s) of the first sample, `first_sample` its index since
    the stream began; `times` optionally gives each sample's own timestamp (LSL).
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"Samples data must be 2-D (channels, samples), got shape {data.shape}")
    if len(ch_names) != data.shape[0]:
        raise ValueError(f"{len(ch_names)} channel names for {data.shape[0]} channels")
    n = data.shape[0]
    m = {"sfreq": float(sfreq), "ch_names": list(ch_names),
         "ch_types": list(ch_types) if ch_types is not None else ["eeg"] * n,
         "units": list(units) if units is not None else ["V"] * n,
         "t_first": float(t_first), "first_sample": int(first_sample), **meta}
    arrays = {} if times is None else {"times": np.asarray(times, dtype=np.float64)}
    return Message(SAMPLES, data, m, now() if t_origin is None else t_origin, arrays)


def frames(data: np.ndarray, *, bin_us: float, t_first_us: int = 0,
           t_origin: float | None = None, **meta: Any) -> Message:
    """A Frames chunk: dense (bins, ...) array, the input of an SNN; bin i starts at
    t_first_us + i * bin_us on the device clock."""
    return Message(FRAMES, np.ascontiguousarray(data),
                   {"bin_us": float(bin_us), "t_first_us": int(t_first_us), **meta},
                   now() if t_origin is None else t_origin)


def spikes(data: np.ndarray, *, layer: str = "input", step: int = 0, dt_s: float | None = None,
           t_origin: float | None = None, **meta: Any) -> Message:
    """A Spikes chunk: dense (steps, neurons...) spike counts of one layer from `step` on."""
    return Message(SPIKES, np.ascontiguousarray(data),
                   {"layer": layer, "step": int(step), "dt_s": dt_s, **meta},
                   now() if t_origin is None else t_origin)


def decision(index: int, label: str, probabilities: Iterable[float], confidence: float,
             steps: int, *, model: str = "", policy: str = "", t_origin: float | None = None,
             **extra: Any) -> Message:
    """A Decision: the class chosen, its probabilities and how many steps it took."""
    item = {"index": int(index), "label": str(label),
            "probabilities": [float(v) for v in probabilities],
            "confidence": float(confidence), "steps": int(steps),
            "model": model, "policy": policy, **extra}
    return Message(DECISION, item, {}, now() if t_origin is None else t_origin)


def marker(label: str, value: Any = None, *, time: float = math.nan, source: str = "",
           t_origin: float | None = None, **extra: Any) -> Message:
    """A Marker: a label (and value) at a device time `time` (s)."""
    item = {"label": str(label), "value": value, "time": float(time), "source": source, **extra}
    return Message(MARKER, item, {}, now() if t_origin is None else t_origin)


def command(action: str, value: Any = None, *, safety: str = "unchecked",
            t_origin: float | None = None, **extra: Any) -> Message:
    """A Command for an actuator; `safety` says what the gate did with it."""
    item = {"action": str(action), "value": value, "safety": safety, **extra}
    return Message(COMMAND, item, {}, now() if t_origin is None else t_origin)


def check(msg: Message) -> None:
    """Raise ValueError if a message does not have the shape of its stream type."""
    s = msg.stream
    if s not in STREAM_TYPES:
        raise ValueError(f"unknown stream type {s!r}; expected one of {', '.join(STREAM_TYPES)}")
    if s in ITEM_STREAMS:
        if not isinstance(msg.data, dict):
            raise ValueError(f"{s} data must be a dict, got {type(msg.data).__name__}")
        return
    if not isinstance(msg.data, np.ndarray):
        raise ValueError(f"{s} data must be a NumPy array, got {type(msg.data).__name__}")
    if s == EVENTS and msg.data.dtype != EVENT_DTYPE:
        raise ValueError(f"Events data must have dtype {EVENT_DTYPE}, got {msg.data.dtype}")
    if s == SAMPLES:
        if msg.data.ndim != 2:
            raise ValueError(f"Samples data must be (channels, samples), got shape {msg.data.shape}")
        names = msg.meta.get("ch_names")
        if names is not None and len(names) != msg.data.shape[0]:
            raise ValueError(f"Samples has {msg.data.shape[0]} channels but {len(names)} names")


def compatible(out_type: str | tuple[str, ...], in_type: str | tuple[str, ...]) -> bool:
    """Whether an output port of `out_type` may feed an input port of `in_type`."""
    outs = (out_type,) if isinstance(out_type, str) else tuple(out_type)
    ins = (in_type,) if isinstance(in_type, str) else tuple(in_type)
    if ANY in outs or ANY in ins:
        return True
    return all(o in ins for o in outs)
