"""AEDAT4 (iniVation) through dv-processing: events and triggers of the first camera."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from drivers.helper_process import HelperError, HelperProcess
from streamer.streams import EVENT_DTYPE

from .aedat4_packets import describe_cut, walk
from .dv_arrays import TRIGGER_DTYPE, empty_triggers
from .errors import EventFileError
from .readers import EventReader


class Aedat4Reader(EventReader):
    """Events of an AEDAT4 recording, batch by batch as dv-processing reads them.

    dv-processing runs in a helper process (drivers/helper_process.py): on a damaged file
    its reader can loop forever, or crash, which would hang or kill the node. A reader
    that sends nothing for `stall_s` is stopped, and every failure becomes an
    EventFileError naming the event packet and its byte offset."""

    format = "AEDAT4"

    def __init__(self, path: str | Path, stall_s: float = 10.0) -> None:
        super().__init__(path)
        self.helper = HelperProcess("drivers.dvs.aedat4_helper", stall_s)
        info = {}
        try:
            for _, payload in self.helper.request(op="info", path=str(self.path)):
                info = json.loads(bytes(payload))
        except HelperError as exc:
            self.helper.close()
            raise self._error(exc, opening=True) from None
        if not info["events"]:
            raise EventFileError(self.path, 0, "AEDAT4 file without an event stream",
                                 f"its streams are {info['streams']}")
        self.width, self.height = info["resolution"]
        self.camera_name = info["camera"]

    def _error(self, exc: HelperError, opening: bool = False, batches: int = 0) -> EventFileError:
        """Where dv-processing failed, from the packet framing (walked only now)."""
        pk = walk(self.path)
        cut = describe_cut(pk)
        doing = "cannot open it as AEDAT4" if opening else "stopped reading"
        problem = f"dv-processing {doing}: {exc}"
        if opening:
            return EventFileError(self.path, pk.end if cut else 0, problem + (f"; {cut}" if cut else ""),
                                  "the file is truncated or corrupt; read what a recovery tool can save "
                                  "from it, or record again")
        events = pk.of_type("EVTS")
        offset = events[batches] if batches < len(events) else pk.end
        where = f"in event packet {batches + 1} of {len(events)}" + (f"; {cut}" if cut else "")
        return EventFileError(self.path, offset, f"{problem}, {where}",
                              f"the file is corrupt from there on; the {batches} event packet(s) before "
                              "it were read")

    def triggers(self) -> np.ndarray:
        try:
            for _, payload in self.helper.request(op="triggers", path=str(self.path)):
                return np.frombuffer(payload, TRIGGER_DTYPE).copy()
        except HelperError as exc:
            raise self._error(exc) from None
        return empty_triggers()

    def chunks_and_triggers(self, max_events: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        triggers = empty_triggers()
        k = batches = 0
        frames = self.helper.request(op="read", path=str(self.path))
        while True:
            try:
                kind, payload = next(frames)
            except StopIteration:
                break
            except HelperError as exc:
                raise self._error(exc, batches=batches) from None
            if kind == b"T":
                triggers = np.frombuffer(payload, TRIGGER_DTYPE)
                continue
            batches += 1
            ev = np.frombuffer(payload, EVENT_DTYPE)
            for i in range(0, len(ev), max_events):
                part = ev[i:i + max_events]
                j = k + int(np.searchsorted(triggers["t"][k:], part["t"][-1], "right")) if len(part) else k
                yield part, triggers[k:j]
                k = j
        if k < len(triggers):
            yield np.empty(0, EVENT_DTYPE), triggers[k:]

    def close(self) -> None:
        self.helper.close()


def write_aedat4(path: str | Path, events: np.ndarray, width: int, height: int,
                 triggers: np.ndarray | None = None, camera_name: str = "streamer") -> None:
    """Write events (and triggers) as AEDAT4 with dv-processing's MonoCameraWriter.

    dv-processing has no bulk NumPy constructor for its EventStore, so events are pushed
    one by one: fine for exports, not for a live path."""
    import dv_processing as dv
    config = dv.io.MonoCameraWriter.EventOnlyConfig(camera_name, (int(width), int(height)))
    if triggers is not None:
        config.addTriggerStream()
    writer = dv.io.MonoCameraWriter(str(path), config)
    step = 1 << 16
    for i in range(0, len(events), step):
        store = dv.EventStore()
        push = store.push_back
        part = events[i:i + step]
        for t, x, y, p in zip(part["t"].tolist(), part["x"].tolist(), part["y"].tolist(), part["p"].tolist()):
            push(t, x, y, bool(p))
        writer.writeEvents(store)
    if triggers is not None and len(triggers):
        kinds = {int(v): v for v in dv.TriggerType.__members__.values()}
        for tr in triggers:
            writer.writeTrigger(dv.Trigger(int(tr["t"]), kinds[int(tr["id"])]))
    del writer  # closes the file
