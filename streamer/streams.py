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


# This host's monotonic clock minus the controller's, in a graph over several hosts (its
# agent passes on what the controller measures, streamer.cluster); 0 on one machine.
_clock_offset_s = 0.0


def set_clock_offset(offset_s: float) -> None:
    """Put `now()` of this process on the controller's clock."""
    global _clock_offset_s
    _clock_offset_s = float(offset_s)


def now() -> float:
    """Monotonic time in seconds, the clock of `t_origin` (shared by all processes: the
    host's, or the controller's on a graph over several hosts)."""
    return time.monotonic() - _clock_offset_s


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
            t_first_s: float = 0.0, first_sample: int = 0, t_origin: float | None = None,
            times: np.ndarray | None = None, **meta: Any) -> Message:
    """A Samples chunk: float32 (channels, samples).

    `t_first_s` is the device time (s) of the first sample, `first_sample` its index since
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
         "t_first_s": float(t_first_s), "first_sample": int(first_sample), **meta}
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


def marker(label: str, value: Any = None, *, time_s: float = math.nan, source: str = "",
           t_origin: float | None = None, **extra: Any) -> Message:
    """A Marker: a label (and value) at a device time `time_s` (s)."""
    item = {"label": str(label), "value": value, "time_s": float(time_s), "source": source, **extra}
    return Message(MARKER, item, {}, now() if t_origin is None else t_origin)


def command(action: str, value: Any = None, *, safety: str = "unchecked",
            t_origin: float | None = None, **extra: Any) -> Message:
    """A Command for an actuator; `safety` says what the gate did with it."""
    item = {"action": str(action), "value": value, "safety": safety, **extra}
    return Message(COMMAND, item, {}, now() if t_origin is None else t_origin)


class InvalidMessage(ValueError):
    """A message that does not have the shape of its stream type; rejected, never processed."""


# Bounds on what one message may declare, checked before anything is allocated.
MAX_DIMS = 8
MAX_ITEMS = 1 << 31          # elements of one array
MAX_CHANNELS = 1 << 16
MAX_SENSOR = 1 << 16         # Events width/height (x and y are uint16)
_NUMERIC_KINDS = "biuf"


def validate(msg: Message) -> None:
    """Raise InvalidMessage unless `msg` has the shape of its stream type.

    Checked per type: Events are a 1-D EVENT_DTYPE array with a positive width/height;
    Samples a 2-D float32 (channels, samples) array with a positive finite sfreq and one
    name per channel; Frames and Spikes numeric arrays; Decision, Marker and Command a map
    with their fields of the right types. Every array is bounded in dimensions and size.
    """
    s = msg.stream
    if s not in STREAM_TYPES:
        raise InvalidMessage(f"unknown stream type {s!r}; expected one of {', '.join(STREAM_TYPES)}")
    if not isinstance(msg.meta, dict):
        raise InvalidMessage(f"{s} metadata must be a map, got {type(msg.meta).__name__}")
    if s in ITEM_STREAMS:
        _ITEM_CHECKS[s](msg.data)
        return
    data = msg.data
    if not isinstance(data, np.ndarray):
        raise InvalidMessage(f"{s} data must be a NumPy array, got {type(data).__name__}")
    if data.ndim > MAX_DIMS or data.size > MAX_ITEMS:
        raise InvalidMessage(f"{s} array of shape {data.shape} is larger than allowed")
    for name, arr in msg.arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
            raise InvalidMessage(f"{s} extra array {name!r} must be a plain NumPy array")
    if s == EVENTS:
        if data.dtype != EVENT_DTYPE or data.ndim != 1:
            raise InvalidMessage(f"Events data must be a 1-D array of EVENT_DTYPE, got {data.dtype} "
                                 f"of shape {data.shape}")
        for key in ("width", "height"):
            v = msg.meta.get(key)
            if not _is_int(v) or not 0 < v <= MAX_SENSOR:
                raise InvalidMessage(f"Events metadata {key!r} must be a whole number in 1..{MAX_SENSOR}, "
                                     f"got {v!r}")
    elif s == SAMPLES:
        if data.dtype != np.float32 or data.ndim != 2:
            raise InvalidMessage(f"Samples data must be float32 (channels, samples), got {data.dtype} "
                                 f"of shape {data.shape}")
        if data.shape[0] > MAX_CHANNELS:
            raise InvalidMessage(f"Samples with {data.shape[0]} channels (at most {MAX_CHANNELS})")
        sfreq = msg.meta.get("sfreq")
        if not _is_number(sfreq) or not (math.isfinite(sfreq) and sfreq > 0):
            raise InvalidMessage(f"Samples metadata 'sfreq' must be a positive number, got {sfreq!r}")
        for key in ("ch_names", "ch_types", "units"):
            v = msg.meta.get(key)
            if v is None and key != "ch_names":
                continue
            if not isinstance(v, (list, tuple)) or len(v) != data.shape[0] \
                    or not all(isinstance(n, str) for n in v):
                raise InvalidMessage(f"Samples metadata {key!r} must list one string per channel "
                                     f"({data.shape[0]}), got {_short(v)}")
        times = msg.arrays.get("times")
        if times is not None and (times.ndim != 1 or len(times) != data.shape[1]):
            raise InvalidMessage(f"Samples 'times' must hold one time per sample ({data.shape[1]}), "
                                 f"got shape {times.shape}")
    else:  # Frames, Spikes
        if data.dtype.kind not in _NUMERIC_KINDS or data.ndim < 1:
            raise InvalidMessage(f"{s} data must be a numeric array of at least 1 dimension, got "
                                 f"{data.dtype} of shape {data.shape}")
        if s == FRAMES:
            bin_us = msg.meta.get("bin_us")
            if bin_us is not None and (not _is_number(bin_us) or not bin_us > 0):
                raise InvalidMessage(f"Frames metadata 'bin_us' must be a positive number, got {bin_us!r}")


def _is_int(v: Any) -> bool:
    # msgpack carries integers of 64 bits at most: a larger one could not be sent on
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and -(1 << 63) <= v < (1 << 64)


def _is_number(v: Any) -> bool:
    return _is_int(v) or isinstance(v, (float, np.floating))


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _item(s: str, data: Any) -> dict:
    if not isinstance(data, dict):
        raise InvalidMessage(f"{s} item must be a map, got {type(data).__name__} {_short(data)}")
    for key in data:
        if not isinstance(key, str):
            raise InvalidMessage(f"{s} item keys must be strings, got {_short(key)}")
    return data


def _field(s: str, item: dict, key: str, ok: Any, what: str, required: bool = True) -> None:
    if key not in item:
        if required:
            raise InvalidMessage(f"{s} item lacks {key!r} ({what})")
        return
    if not ok(item[key]):
        raise InvalidMessage(f"{s} item {key!r} must be {what}, got {_short(item[key])}")


def _plain_value(v: Any, depth: int = 0) -> bool:
    """None, a bool, a number, a string, or a short, shallow list or map of them."""
    if v is None or isinstance(v, (bool, str)) or _is_number(v):
        return True
    if depth >= 3:
        return False
    if isinstance(v, (list, tuple)) and len(v) <= 4096:
        return all(_plain_value(x, depth + 1) for x in v)
    if isinstance(v, dict) and len(v) <= 256:
        return all(isinstance(k, str) and _plain_value(x, depth + 1) for k, x in v.items())
    return False


def _check_decision(data: Any) -> None:
    item = _item(DECISION, data)
    _field(DECISION, item, "index", _is_int, "a whole number")
    _field(DECISION, item, "label", lambda v: isinstance(v, str), "a string")
    _field(DECISION, item, "confidence", _is_number, "a number")
    _field(DECISION, item, "steps", _is_int, "a whole number", required=False)
    _field(DECISION, item, "probabilities",
           lambda v: isinstance(v, (list, tuple)) and len(v) <= MAX_CHANNELS and all(_is_number(x) for x in v),
           "a list of numbers", required=False)


def _check_marker(data: Any) -> None:
    item = _item(MARKER, data)
    _field(MARKER, item, "label", lambda v: isinstance(v, str), "a string")
    _field(MARKER, item, "time_s", _is_number, "a number (s)", required=False)


def _check_command(data: Any) -> None:
    item = _item(COMMAND, data)
    _field(COMMAND, item, "action", lambda v: isinstance(v, str) and len(v) <= 256, "a string")
    _field(COMMAND, item, "value", _plain_value, "null, a bool, a number, a string, or a list or map of them",
           required=False)
    _field(COMMAND, item, "safety", lambda v: isinstance(v, str), "a string", required=False)


_ITEM_CHECKS = {DECISION: _check_decision, MARKER: _check_marker, COMMAND: _check_command}


def compatible(out_type: str | tuple[str, ...], in_type: str | tuple[str, ...]) -> bool:
    """Whether an output port of `out_type` may feed an input port of `in_type`."""
    outs = (out_type,) if isinstance(out_type, str) else tuple(out_type)
    ins = (in_type,) if isinstance(in_type, str) else tuple(in_type)
    if ANY in outs or ANY in ins:
        return True
    return all(o in ins for o in outs)
