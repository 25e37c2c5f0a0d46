"""Hypothesis strategies for messages that pass `streams.validate` but are otherwise as
hostile as the wire allows: sensors and channel layouts that change between messages,
empty arrays, NaN and infinite values, coordinates beyond the sensor, times that jump or go
back, any dtype and byte order a Frames array may have, and the optional metadata nodes
read (first_sample, t_end_us, dt_s, ...) holding anything msgpack can carry."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from streamer import streams
from streamer.streams import (COMMAND, DECISION, EVENT_DTYPE, EVENTS, FRAMES, MARKER, SAMPLES, SPIKES,
                              Message)

INT64 = (-(2 ** 63), 2 ** 63 - 1)

# Anything a msgpack header may carry as a metadata value.
PLAIN_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(*INT64), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from([0, 1, -1, 2 ** 31, 2 ** 62, 1e300, -1e300, math.nan, math.inf, "", "0"]))
PLAIN = st.recursive(PLAIN_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=8)

# Times (µs or s) and origin times: ordinary ones mostly, extremes often enough.
T_ORIGIN = st.one_of(st.just(None), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0.0, -1.0, 1e18, -1e18, math.nan, math.inf, -math.inf]))
SMALL_INT = st.integers(-3, 1 << 20)
TIME_US = st.one_of(st.integers(0, 10 ** 6), st.integers(*INT64),
                    st.sampled_from([0, -1, INT64[0], INT64[1], INT64[1] // 2, INT64[0] // 2]))


def origin(value: float | None) -> float:
    return streams.now() if value is None else value


def extras(keys: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Metadata with some of `keys`, each usually a sensible value and sometimes anything."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(good, good, PLAIN) for k, good in keys.items()})


def _values(dtype: np.dtype, n: int) -> st.SearchStrategy:
    """n values of a numeric dtype: small counts mostly, any value of the dtype sometimes."""
    if dtype.kind == "b":
        elem = st.booleans()
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        elem = st.one_of(st.integers(0, 3), st.integers(int(info.min), int(info.max)))
    else:
        width = 16 if dtype.itemsize == 2 else 32 if dtype.itemsize == 4 else 64
        elem = st.one_of(st.sampled_from([0.0, 1.0, 2.0]),
                         st.floats(width=width, allow_nan=True, allow_infinity=True))
    return st.lists(elem, min_size=n, max_size=n)


def _array(draw, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    arr = np.array(draw(_values(dtype, n)), dtype=dtype).reshape(shape)
    if draw(st.booleans()):
        arr.setflags(write=False)  # arrays off the wire are read-only views of the socket buffer
    return arr


# -- Events -----------------------------------------------------------------------------------
SENSOR = st.one_of(st.sampled_from([1, 2, 8, 34, 240, 640, 65535, 65536]), st.integers(1, 65536))


@st.composite
def events_data(draw, width: int, height: int) -> np.ndarray:
    n = draw(st.integers(0, 40))
    ev = np.zeros(n, EVENT_DTYPE)
    on = st.integers(0, max(0, width - 1))
    edge = st.sampled_from([min(v, 65535) for v in (width - 1, width, width + 1, 65535)])
    ev["x"] = draw(st.lists(st.one_of(on, on, edge, st.integers(0, 65535)), min_size=n, max_size=n))
    on = st.integers(0, max(0, height - 1))
    edge = st.sampled_from([min(v, 65535) for v in (height - 1, height, height + 1, 65535)])
    ev["y"] = draw(st.lists(st.one_of(on, on, edge, st.integers(0, 65535)), min_size=n, max_size=n))
    ev["p"] = draw(st.lists(st.one_of(st.integers(0, 1), st.integers(-128, 127)), min_size=n, max_size=n))
    order = draw(st.sampled_from(["rising", "rising", "any", "falling"]))
    t = draw(st.lists(TIME_US if order == "any" else st.integers(0, 50_000), min_size=n, max_size=n))
    start = draw(TIME_US)
    if order != "any":
        steps = np.sort(np.asarray(t, np.int64))
        t = (steps if order == "rising" else steps[::-1]) + np.int64(max(min(start, INT64[1] // 2), INT64[0] // 2))
    ev["t"] = t
    if draw(st.booleans()):
        ev.setflags(write=False)
    return ev


@st.composite
def events_messages(draw) -> Message:
    width = draw(SENSOR) if draw(st.booleans()) else 34
    height = draw(SENSOR) if draw(st.booleans()) else 34
    meta = draw(extras({"t_end_us": TIME_US, "clock": st.just("device")}))
    return Message(EVENTS, draw(events_data(width, height)), {"width": width, "height": height, **meta},
                   origin(draw(T_ORIGIN)))


# -- Samples ----------------------------------------------------------------------------------
SFREQ = st.one_of(st.sampled_from([160.0, 250.0, 1000.0, 100, 1.0, 0.5, 1e-3, 1e6, 1e300, 5e-324]),
                  st.floats(min_value=1e-6, max_value=1e7))
NAMES = ["C3", "C4", "Cz", "LA1", "LA2", "LA3", "Fp1", "O1", "count", "", "C3.."]
TYPES = ["eeg", "eeg", "seeg", "ecog", "misc", "stim", ""]
FLOAT32 = st.one_of(st.floats(-2 ** -13, 2 ** -13, width=32), st.floats(width=32, allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, 1.0, -1.0, math.nan, math.inf, 3.4e38, 1e-45]))


@st.composite
def samples_layout(draw) -> dict:
    """A channel layout: names (duplicates possible), optional types and units, sfreq."""
    n = draw(st.integers(0, 5))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=n, max_size=n))
    layout = {"sfreq": draw(SFREQ), "ch_names": names}
    if draw(st.integers(0, 3)):
        layout["ch_types"] = draw(st.lists(st.sampled_from(TYPES), min_size=n, max_size=n))
    if draw(st.integers(0, 3)):
        layout["units"] = draw(st.lists(st.sampled_from(["V", "uV", "n/a"]), min_size=n, max_size=n))
    return layout


@st.composite
def samples_stream(draw, max_messages: int = 6) -> list[Message]:
    """Consecutive Samples chunks of one layout, the layout or the numbering sometimes changing."""
    layout = draw(samples_layout())
    first = draw(st.one_of(st.just(0), st.integers(0, 10 ** 6), st.integers(*INT64)))
    out = []
    for _ in range(draw(st.integers(1, max_messages))):
        if draw(st.integers(0, 5)) == 0:
            layout = draw(samples_layout())
        n_ch = len(layout["ch_names"])
        n = draw(st.sampled_from([0, 1, 3, 16, 64]))
        data = _array(draw, np.dtype(np.float32), (n_ch, n)) if draw(st.booleans()) else \
            np.full((n_ch, n), draw(FLOAT32), np.float32)
        meta = dict(layout)
        jump = draw(st.integers(0, 5))
        if jump == 0:
            first = draw(st.integers(*INT64))
        elif jump == 1:
            first -= draw(st.integers(0, 100))
        if draw(st.integers(0, 5)):
            meta["first_sample"] = first
        else:
            meta.update(draw(extras({"first_sample": st.integers(*INT64)})))
        meta.update(draw(extras({"t_first_s": st.floats(allow_nan=True, allow_infinity=True)})))
        arrays = {}
        if draw(st.integers(0, 4)) == 0:
            arrays["times"] = np.array(draw(st.lists(st.floats(allow_nan=True), min_size=n, max_size=n)))
        out.append(Message(SAMPLES, data, meta, origin(draw(T_ORIGIN)), arrays))
        first += n
    return out


# -- Frames and Spikes ------------------------------------------------------------------------
DTYPES = [np.dtype(d) for d in ("f4", "f4", "f8", "f2", ">f4", ">f8", "u1", "i1", "i2", ">i4", "u4", "i8",
                                "u8", "bool")]


@st.composite
def array_data(draw, shapes: list[tuple[int, ...]]) -> np.ndarray:
    """A numeric array: one of `shapes` (with any leading length) or any shape of up to 4 dims."""
    if shapes and draw(st.integers(0, 3)):
        shape = (draw(st.integers(0, 4)),) + draw(st.sampled_from(shapes))
    else:
        shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=4)))
    return _array(draw, draw(st.sampled_from(DTYPES)), shape)


BIN_US = st.one_of(st.sampled_from([1000.0, 10000.0, 20000.0, 25000.0, 2500.0, 6250.0, 1e-300, 1e300,
                                    math.inf]),
                   st.floats(min_value=1e-3, max_value=1e9))


@st.composite
def frames_messages(draw, shapes: list[tuple[int, ...]] = ()) -> Message:
    data = draw(array_data(list(shapes)))
    meta = draw(extras({"bin_us": BIN_US, "t_first_us": TIME_US, "label": st.sampled_from(["T1", "T2", "ictal"]),
                        "first_sample": SMALL_INT, "value": PLAIN}))
    if "bin_us" in meta and not (streams._is_number(meta["bin_us"]) and meta["bin_us"] > 0):
        del meta["bin_us"]  # validate checks it
    return Message(FRAMES, data, meta, origin(draw(T_ORIGIN)))


@st.composite
def spikes_messages(draw, shapes: list[tuple[int, ...]] = ()) -> Message:
    data = draw(array_data(list(shapes)))
    meta = draw(extras({"layer": st.just("input"), "step": SMALL_INT, "dt_s": st.floats(1e-4, 1.0),
                        "t_first_us": TIME_US}))
    return Message(SPIKES, data, meta, origin(draw(T_ORIGIN)))


# -- Decision, Marker, Command ----------------------------------------------------------------
LABELS = st.one_of(st.sampled_from(["left", "right", "stop", "forward", "zero", "T1", "T2", "ictal",
                                    "interictal", "0", "1", ""]), st.text(max_size=10))
NUMBER = st.one_of(st.floats(0, 1), st.floats(allow_nan=True, allow_infinity=True), st.integers(*INT64))


def _extra_fields(draw, keys: dict[str, st.SearchStrategy]) -> dict:
    item = draw(extras(keys))
    item.update(draw(st.dictionaries(st.text(max_size=6), PLAIN, max_size=2)))
    return item


@st.composite
def decision_items(draw) -> dict:
    item = _extra_fields(draw, {"steps": st.integers(*INT64), "model": st.text(max_size=4)})
    item.update(index=draw(st.one_of(st.integers(-1, 4), st.integers(*INT64))), label=draw(LABELS),
                confidence=draw(NUMBER))
    if draw(st.booleans()):
        item["probabilities"] = draw(st.lists(NUMBER, max_size=5))
    if "steps" in item and not streams._is_int(item["steps"]):
        del item["steps"]
    return item


@st.composite
def marker_items(draw) -> dict:
    item = _extra_fields(draw, {"sample": SMALL_INT, "value": PLAIN, "source": st.text(max_size=4)})
    item["label"] = draw(LABELS)
    if draw(st.integers(0, 3)):
        item["time_s"] = draw(st.one_of(st.floats(0, 100), NUMBER))
    return item


@st.composite
def command_items(draw) -> dict:
    item = _extra_fields(draw, {"safety": st.text(max_size=6), "label": LABELS})
    item["action"] = draw(st.one_of(LABELS, st.text(max_size=256)))
    if draw(st.integers(0, 4)):
        item["value"] = draw(st.one_of(NUMBER, PLAIN, st.lists(NUMBER, max_size=3)))
    if not isinstance(item.get("safety", ""), str):
        del item["safety"]
    return item


ITEMS = {DECISION: decision_items, MARKER: marker_items, COMMAND: command_items}


@st.composite
def item_messages(draw, stream: str) -> Message:
    return Message(stream, draw(ITEMS[stream]()), {}, origin(draw(T_ORIGIN)))


def messages(stream: str, shapes: list[tuple[int, ...]] = ()) -> st.SearchStrategy:
    """Valid messages of one stream type (Samples: a short run of consecutive chunks)."""
    if stream == EVENTS:
        return events_messages().map(lambda m: [m])
    if stream == SAMPLES:
        return samples_stream(3)
    if stream == FRAMES:
        return frames_messages(shapes).map(lambda m: [m])
    if stream == SPIKES:
        return spikes_messages(shapes).map(lambda m: [m])
    return item_messages(stream).map(lambda m: [m])
