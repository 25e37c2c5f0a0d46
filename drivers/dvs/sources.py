"""Event sources: a file replayed on its own clock, a live camera, a DV network stream."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer import streams
from streamer.clock import Pacer
from streamer.node import EndOfStream, Port, Source, Unavailable
from streamer.recycle import Recycler
from streamer.paths import InputPath
from streamer.streams import EVENT_DTYPE, EVENTS, MARKER

from .dv_arrays import store_events, trigger_array
from .folder import SampleFolder, list_samples
from .readers import TRIGGER_DTYPE, join, open_events

READ_EVENTS = 1 << 16


def trigger_markers(tr: np.ndarray, source: str, t_origin: float) -> list:
    """One Marker per external trigger: label trigger<id>, value 1 (rising) or 0."""
    return [streams.marker(f"trigger{int(r['id'])}", int(r["p"]), time_s=int(r["t"]) * 1e-6,
                           source=source, t_origin=t_origin) for r in tr]


def _joined(parts: list[np.ndarray], dtype: np.dtype, buffers: Recycler) -> np.ndarray:
    """`join` into reused buffers, without a copy when all but one part are empty (the
    buffer was used up)."""
    full = [p for p in parts if len(p)]
    return full[0] if len(full) == 1 else join(full, dtype, buffers)


class FileCamera(Source):
    """Replays an event file: Prophesee RAW (EVT 2.0/2.1/3.0), DAT, AEDAT4 or N-MNIST .bin,
    recognised by content; or a folder of labelled N-MNIST samples. Time is the file's
    device clock, paced in real time (speed 1), N times faster (speed N) or as fast as
    possible (speed 0).

    Outputs `out` (Events in chunks of `chunk_us` of device time, with `t_end_us`) and
    `markers` (a Marker per external trigger: label trigger<id>, value 1 rising / 0 falling).

    A folder holds `<id>.bin` files with a `labels.txt` of "<id> <label>" lines, or
    `<label>/<file>.bin` sub-folders (the N-MNIST distribution). Its samples are replayed
    one after the other (the first `limit` of them, if set), each starting `gap_us` after
    the previous one's last event, on a whole millisecond; each start is a Marker with the
    sample's class: label = class name, value = class index (the label itself for digits),
    time = the start (s), sample = the file.
    """

    outputs = {"out": Port(EVENTS, "the file's events"),
               "markers": Port(MARKER, "external triggers in the file; a folder's sample starts "
                                       "with their labels")}

    class Params(streamer.node.Params):
        path: InputPath = Field(description="event file (.raw, .dat, .aedat4, N-MNIST .bin), or a folder "
                                      "of labelled N-MNIST samples")
        speed: float = Field(1.0, ge=0, description="1 = real time, N = N x faster, 0 = as fast as possible")
        loop: bool = Field(False, description="start again at the end (time keeps increasing)")
        chunk_us: int = Field(10_000, gt=0, description="device time per emitted chunk (µs)")
        width: int | None = Field(None, gt=0, description="sensor width where the file does not give it")
        height: int | None = Field(None, gt=0, description="sensor height where the file does not give it")
        limit: int = Field(0, ge=0, description="folder: replay only its first N samples (0 = all)")
        gap_us: int = Field(10_000, ge=0, description="folder: device time between a sample's last "
                                                      "event and the next sample's start (µs)")
        threads: int = Field(1, ge=1, le=2, description="EVT 3.0: 2 decodes two halves of each block at "
                                                        "once (faster replay when a core is free)")

    @classmethod
    def check(cls, params: "FileCamera.Params") -> list[tuple[str, str]]:
        """A folder must hold labelled samples (its files are read only when replayed)."""
        if not Path(params.path).is_dir():
            return []
        try:
            list_samples(params.path, params.limit)
        except (OSError, ValueError) as exc:
            return [("path", str(exc))]
        return []

    def start(self) -> None:
        p = self.params
        if Path(p.path).is_dir():
            self.reader = SampleFolder(p.path, p.limit, p.gap_us)
            self._markers = self.reader.markers
        elif Path(p.path).is_file():
            self.reader = open_events(p.path, width=p.width, height=p.height, threads=p.threads)
            self._markers = trigger_markers
        else:
            raise FileNotFoundError(f"dvs.file: no event file or folder at {p.path!r}; check the path")
        self.width, self.height = self.reader.width, self.reader.height
        self.pacer = Pacer(p.speed if p.speed > 0 else 0.0)
        self._open_pass()
        self._ev = np.empty(0, EVENT_DTYPE)
        self._tr = np.empty(0, TRIGGER_DTYPE)
        self._buffers = Recycler(keep=4, keep_bytes=1 << 25)  # what the windows are cut from
        self._offset = 0  # added to device time on each loop
        self._first_t: int | None = None
        self._last_t = 0
        self._w0: int | None = None
        self._eof = False

    def _open_pass(self) -> None:
        self._it = self.reader.chunks_and_triggers(READ_EVENTS)

    def stop(self) -> None:
        close = getattr(getattr(self, "reader", None), "close", None)
        if close is not None:  # an AEDAT4 reader's helper process
            close()

    def _fill(self, until: int) -> None:
        """Read until the buffer holds an event at or after `until`, or the file ends."""
        ev_parts, tr_parts = [self._ev], [self._tr]
        last = self._ev["t"][-1] if len(self._ev) else None
        while not self._eof and (last is None or last < until):
            try:
                ev, tr = next(self._it)
            except StopIteration:
                if not self.params.loop or self._first_t is None:
                    self._eof = True
                    break
                # a folder's pass ends with its gap, so the next pass keeps the alignment
                span = getattr(self.reader, "span_us", None)
                self._offset += span if span is not None else self._last_t - self._first_t + 1
                self._open_pass()
                continue
            if self._first_t is None and len(ev):
                self._first_t = int(ev["t"][0])
            if self._offset:
                ev = ev.copy()
                ev["t"] += self._offset
                tr = tr.copy()
                tr["t"] += self._offset
            if len(ev):
                self._last_t = int(ev["t"][-1]) - self._offset
                last = ev["t"][-1]
            ev_parts.append(ev)
            tr_parts.append(tr)
        if len(ev_parts) > 1:
            self._ev = _joined(ev_parts, EVENT_DTYPE, self._buffers)
            self._tr = _joined(tr_parts, TRIGGER_DTYPE, self._buffers)

    def produce(self):
        step = self.params.chunk_us
        if self._w0 is None:
            self._fill(0)
            if not len(self._ev) and not len(self._tr):
                raise EndOfStream
            self._w0 = int(self._ev["t"][0]) if len(self._ev) else int(self._tr["t"][0])
        w1 = self._w0 + step
        self._fill(w1)
        if self._eof and not len(self._ev) and not len(self._tr):
            raise EndOfStream
        if self.pacer.unpaced and len(self._ev) and self._ev["t"][0] >= w1 and \
                not (len(self._tr) and self._tr["t"][0] < w1):
            # as fast as possible: skip empty stretches of device time
            self._w0 = int(self._ev["t"][0])
            w1 = self._w0 + step
            self._fill(w1)
        if not self.pacer.wait(w1 * 1e-6):
            return None
        k = int(np.searchsorted(self._ev["t"], w1, "left"))
        j = int(np.searchsorted(self._tr["t"], w1, "left"))
        ev, self._ev = self._ev[:k], self._ev[k:]
        tr, self._tr = self._tr[:j], self._tr[j:]
        self._w0 = w1
        t_origin = streams.now()
        out = {"out": streams.events(ev, width=self.width, height=self.height, t_origin=t_origin,
                                     t_end_us=int(w1))}
        if len(tr):
            out["markers"] = self._markers(tr, self.name, t_origin)
        return out


class _DvInput(Source):
    """A dv-processing input (camera or network): batches as they arrive."""

    outputs = {"out": Port(EVENTS, "events as they arrive"),
               "markers": Port(MARKER, "external triggers")}

    def _connect(self):
        raise NotImplementedError

    def start(self) -> None:
        self.input = self._connect()
        self._start_reading()

    def _start_reading(self) -> None:
        import queue
        import threading
        if not self.input.isEventStreamAvailable():
            raise RuntimeError(f"{self.name}: the input has no event stream")
        self.width, self.height = (int(v) for v in self.input.getEventResolution())
        # dv-processing's reads block until data come: they run in a thread of their own
        # so that produce() stays responsive.
        self._queue: queue.Queue = queue.Queue(maxsize=256)
        self._running = True
        self._thread = threading.Thread(target=self._read_loop, name=f"{self.name}-read", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        inp = self.input
        triggers = inp.isTriggerStreamAvailable()
        try:
            while self._running and inp.isRunning():
                store = inp.getNextEventBatch()
                t_origin = streams.now()
                if store is not None and len(store):
                    ev = store if isinstance(store, np.ndarray) else store_events(store)
                    self._queue.put(("out", ev, t_origin))
                if triggers:
                    trig = inp.getNextTriggerBatch()
                    if trig is not None and len(trig):
                        tr = trig if isinstance(trig, np.ndarray) else trigger_array(trig)
                        self._queue.put(("markers", tr, t_origin))
        except Exception as exc:  # a dropped connection ends the stream, with its reason
            self._queue.put(("error", exc, 0.0))
        self._queue.put(("end", None, 0.0))

    def produce(self):
        import queue
        try:
            kind, data, t_origin = self._queue.get(timeout=0.05)
        except queue.Empty:
            return None
        if kind == "end":
            raise EndOfStream
        if kind == "error":
            raise RuntimeError(f"{self.name}: input stopped: {data}")
        if kind == "markers":
            return {"markers": trigger_markers(data, self.name, t_origin)}
        # events of a batch are all delivered: the stream is complete up to its last time
        return {"out": streams.events(data, width=self.width, height=self.height, t_origin=t_origin,
                                      t_end_us=int(data["t"][-1]))}

    def stop(self) -> None:
        self._running = False
        close = getattr(getattr(self, "input", None), "close", None)
        if close is not None:
            close()


class Camera(_DvInput):
    """A live event camera: iniVation (DVXplorer, DAVIS, DVS128) through dv-processing, or
    Prophesee through the Metavision SDK when it is installed.

    `serial` picks a camera (empty: the first found); `backend` forces one library. No
    camera gives an error listing the cameras that were found. Settings the connected
    camera does not have are an error, not silently ignored. Outputs `out` (Events, camera
    µs, with `t_end_us`) and `markers` (external triggers)."""

    class Params(streamer.node.Params):
        serial: str = Field("", description="serial number of the camera; empty = the first found")
        backend: Literal["auto", "inivation", "prophesee"] = Field(
            "auto", description="camera library: auto = iniVation cameras first, then Prophesee")
        batch_us: int = Field(1000, gt=0, description="time a batch of events covers (µs): latency vs overhead")
        flip_horizontal: bool = Field(False, description="mirror x on the camera")
        flip_vertical: bool = Field(False, description="mirror y on the camera")
        crop: tuple[int, int, int, int] | None = Field(
            None, description="region of interest [x, y, width, height] set on the camera")
        contrast_threshold_on: int | None = Field(
            None, description="DVXplorer ON contrast threshold (sensor units); None = camera default")
        contrast_threshold_off: int | None = Field(
            None, description="DVXplorer OFF contrast threshold (sensor units); None = camera default")
        biases: dict[str, int] = Field(
            default_factory=dict, description="Prophesee biases by name (bias_diff_on, bias_fo, ...)")

        @model_validator(mode="after")
        def _backend(self) -> "Camera.Params":
            if self.backend == "inivation" and self.biases:
                raise ValueError("biases are Prophesee settings; remove them or use backend prophesee")
            return self

    def start(self) -> None:
        if self._use_prophesee():
            from .prophesee_camera import PropheseeInput
            self.input = PropheseeInput(self.params.serial, self.params.batch_us, self.params.biases)
            self._start_reading()
            return
        super().start()

    def _use_prophesee(self) -> bool:
        p = self.params
        if p.backend == "prophesee":
            return True
        if p.backend == "inivation" or self._inivation_found():
            return False
        import importlib.util
        return importlib.util.find_spec("metavision_core") is not None

    def _inivation_found(self) -> list[str]:
        import dv_processing as dv
        return [str(d) for d in dv.io.camera.discover()]

    def _connect(self):
        import datetime

        import dv_processing as dv
        p = self.params
        found = self._inivation_found()
        if not found or (p.serial and not any(p.serial in d for d in found)):
            want = f"camera {p.serial!r}" if p.serial else "event camera"
            raise Unavailable(f"dvs.camera: no {want} found; cameras found: "
                               f"{', '.join(found) or 'none'} (check the USB connection and udev rules, "
                               "or use dvs.file / dvs.synthetic)")
        cam = dv.io.camera.open(p.serial) if p.serial else dv.io.camera.open()
        cam.setTimeInterval(datetime.timedelta(microseconds=p.batch_us))
        cam.setFlipHorizontal(p.flip_horizontal)
        cam.setFlipVertical(p.flip_vertical)
        if p.crop is not None:
            cam.setCropArea(tuple(p.crop))
        for name, value in (("setContrastThresholdOn", p.contrast_threshold_on),
                            ("setContrastThresholdOff", p.contrast_threshold_off)):
            if value is not None:
                if not hasattr(cam, name):
                    raise ValueError(f"dvs.camera: {cam.getCameraName()} has no contrast thresholds "
                                     "(a DVXplorer setting); remove contrast_threshold_on/off")
                getattr(cam, name)(value)
        if p.biases:
            raise ValueError("dvs.camera: biases are Prophesee settings; an iniVation camera is connected")
        return cam


class NetworkInput(_DvInput):
    """Events from a DV network stream (dv-processing NetworkWriter, DV software): TCP
    `address` (host:port), or a UNIX socket at `socket_path`."""

    class Params(streamer.node.Params):
        address: str = Field("", description="host:port of the DV stream server (TCP)")
        socket_path: str = Field("", description="UNIX socket of the DV stream server")

        @model_validator(mode="after")
        def _where(self) -> "NetworkInput.Params":
            if not self.address and not self.socket_path:
                raise ValueError("give address (host:port, TCP) or socket_path (UNIX socket)")
            if self.address and not self.socket_path and not self.address.rpartition(":")[2].isdigit():
                raise ValueError(f"address {self.address!r} has no port; write host:port")
            return self

    def _connect(self):
        import dv_processing as dv
        p = self.params
        where = p.socket_path or p.address
        try:
            if p.socket_path:
                return dv.io.NetworkReader(p.socket_path)
            host, _, port = p.address.rpartition(":")
            if not port.isdigit():
                raise ValueError(f"address {p.address!r} has no port; write host:port")
            return dv.io.NetworkReader(host.strip("[]") or "127.0.0.1", int(port))
        except Exception as exc:
            raise RuntimeError(f"dvs.network: cannot connect to {where}: {exc} "
                               "(is the DV stream server running?)") from None
