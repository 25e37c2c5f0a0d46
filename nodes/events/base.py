"""What every event node shares: the sensor geometry from the stream's metadata and a
check that events lie on it (a wrong width/height would otherwise index out of bounds).
Malformed chunks are refused with `Rejected`, which the runtime counts; the node goes on."""
from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
from numba import njit

from streamer import streams
from streamer.node import Port, Rejected, Transform
from streamer.streams import EVENT_DTYPE, EVENTS, Message

log = logging.getLogger("nodes.events")

# Largest sensor a node keeps per-pixel state for (4096 x 4096): the 65536 x 65536 an Events
# stream may declare would take 32 GiB of timestamps.
MAX_PIXELS = 1 << 24


class EventTransform(Transform):
    """Base of Events -> Events nodes: one input `in`, one output `out`."""

    inputs = {"in": Port(EVENTS)}
    outputs = {"out": Port(EVENTS)}

    # The sensor of the throwaway warm-up chunks: the largest common one (1280 x 720,
    # Prophesee IMX636), so that parameters in pixels (ROI, hot pixels) lie on it.
    WARM_UP_SENSOR = (1280, 720)

    def warm_up(self) -> None:
        """Run a throwaway copy of this node on a few events, so that its kernels are
        compiled (or loaded from the cache) before live data; this node's state is untouched."""
        clone = type(self)(**self.params.model_dump())
        clone.name = self.name
        clone.start()
        width, height = EventTransform.WARM_UP_SENSOR
        try:
            # Live chunks arrive read-only off the wire, and the field views of a chunk of
            # one event or none are contiguous: Numba compiles each of these apart.
            for n in (2, 1, 0):
                ev = np.zeros(n, EVENT_DTYPE)
                ev["x"], ev["p"], ev["t"] = np.arange(n), np.arange(n), np.arange(n) + 10 * (2 - n)
                ev.setflags(write=False)
                clone.receive("in", streams.events(ev, width=width, height=height))
            clone.finish()
        except ValueError as exc:  # parameters for a larger sensor: compile on live data then
            log.warning("%s: kernels not compiled ahead (%s); the first chunk will be slower", self.name, exc)
        finally:
            clone.stop()

    def geometry(self, msg: Message, check: bool = True) -> tuple[int, int]:
        """(width, height) of the sensor; with `check`, the events of this chunk are
        checked to lie on it (kernels that test bounds themselves pass check=False)."""
        data = msg.data
        if not isinstance(data, np.ndarray) or data.dtype != EVENT_DTYPE or data.ndim != 1:
            got = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
            raise Rejected(f"{self.name}: Events data must be a 1-D array of streamer.streams.EVENT_DTYPE "
                           f"(t, x, y, p), got {got}; build it with streamer.streams.as_events(x, y, p, t)")
        try:
            w, h = int(msg.meta["width"]), int(msg.meta["height"])
        except (KeyError, TypeError, ValueError):
            raise Rejected(f"{self.name}: the Events stream has no width/height in its metadata; "
                           "make its source set them (streamer.streams.events(..., width=, height=))") from None
        if w < 1 or h < 1:
            raise Rejected(f"{self.name}: the Events stream says the sensor is {w}x{h}; "
                           "its source must set a positive width/height")
        ev = msg.data
        if check and len(ev) and (int(ev["x"].max()) >= w or int(ev["y"].max()) >= h):
            raise Rejected(f"{self.name}: event at x={int(ev['x'].max())}, y={int(ev['y'].max())} outside "
                           f"the {w}x{h} sensor named in the stream's metadata; fix the source's width/height")
        return w, h

    def pixel_map(self, w: int, h: int) -> None:
        """Refuse a sensor too large for this node's per-pixel state."""
        if w * h > MAX_PIXELS:
            raise Rejected(f"{self.name}: the Events stream says the sensor is {w}x{h}, more than the "
                           f"{MAX_PIXELS} pixels this node keeps state for; fix the source's width/height, "
                           "or crop (events.roi) or downsample (events.downsample) before this node")

    def through_state(self, msg: Message, sensor: tuple[int, int], make: Callable[[], Any],
                      pixels: tuple[int, int] | None = None) -> np.ndarray:
        """The chunk through `self.state`, or through a new one from make() when there is
        none or it was made for another sensor (a state's `sensor`: its (width, height));
        a new state is kept once a chunk fits it. `pixels`: the size of the per-pixel map
        the new state keeps, refused when too large. Events off the sensor are Rejected."""
        state = self.state
        if state is None or state.sensor != sensor:
            if pixels is not None:
                self.pixel_map(*pixels)
            state = make()
        try:
            out = state(msg.data)
        except OffSensor as exc:
            raise self.outside(msg, exc) from None
        self.state = state
        return out

    def outside(self, msg: Message, i: int | OffSensor) -> Rejected:
        """The error for event i of this chunk lying outside the sensor."""
        e = msg.data[i.index if isinstance(i, OffSensor) else i]
        return Rejected(f"{self.name}: event at x={int(e['x'])}, y={int(e['y'])} outside the "
                        f"{msg.meta['width']}x{msg.meta['height']} sensor named in the stream's "
                        "metadata; fix the source's width/height")


class OffSensor(ValueError):
    """An event lies off the sensor given; `index` is its position in the input."""

    def __init__(self, ev: np.ndarray, index: int, width: int, height: int) -> None:
        e = ev[index]
        super().__init__(f"event {index} at x={int(e['x'])}, y={int(e['y'])} is outside the {width}x{height} "
                         "sensor; give the sensor's width/height")
        self.index = index


def check_events(ev: np.ndarray, who: str = "events") -> np.ndarray:
    """The plain functions' input check: a 1-D array of EVENT_DTYPE (as the kernels read)."""
    if not isinstance(ev, np.ndarray) or ev.dtype != EVENT_DTYPE or ev.ndim != 1:
        got = f"{ev.dtype} array of shape {ev.shape}" if isinstance(ev, np.ndarray) else type(ev).__name__
        raise TypeError(f"{who} must be a 1-D array of streamer.streams.EVENT_DTYPE (t, x, y, p), got {got}; "
                        "build it with streamer.streams.as_events(x, y, p, t)")
    return ev


def check_sensor(width: int, height: int, per_pixel: bool = True) -> tuple[int, int]:
    """A sensor's (width, height) for the plain functions: positive, and, for those that
    keep per-pixel state, at most MAX_PIXELS."""
    w, h = int(width), int(height)
    if w < 1 or h < 1:
        raise ValueError(f"the sensor must have a positive width and height, got {w}x{h}")
    if per_pixel and w * h > MAX_PIXELS:
        raise ValueError(f"a {w}x{h} sensor has more than the {MAX_PIXELS} pixels kept state for; "
                         "crop (roi) or downsample the events first")
    return w, h


def columns(ev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, y, p, t as contiguous arrays for the kernels."""
    return (np.ascontiguousarray(ev["x"]), np.ascontiguousarray(ev["y"]),
            np.ascontiguousarray(ev["p"]), np.ascontiguousarray(ev["t"]))


def rows(ev: np.ndarray) -> np.ndarray:
    """The events as (n, 2) uint64 words, for kernels that copy whole events."""
    return np.ascontiguousarray(ev).view(np.uint64).reshape(-1, 2)


@njit(cache=True, nogil=True)
def first_outside(x: np.ndarray, y: np.ndarray, w: int, h: int) -> int:
    """Index of the first event off a w x h sensor, or -1: kernels call it before they touch
    their state, so that a refused chunk leaves none of it changed."""
    for i in range(x.shape[0]):
        if x[i] >= w or y[i] >= h:
            return i
    return -1


@njit(cache=True, nogil=True)
def copy_row(src: np.ndarray, i: int, dst: np.ndarray, n: int) -> None:
    dst[n, 0] = src[i, 0]
    dst[n, 1] = src[i, 1]
