"""AEDAT4 (iniVation) through dv-processing: events and triggers of the first camera."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from streamer.streams import EVENT_DTYPE

from .errors import EventFileError
from .readers import TRIGGER_DTYPE, EventReader, empty_triggers

# dv.TriggerType values that are a rising edge (or a pulse): p = 1; the others p = 0.
_RISING = ("EXTERNAL_SIGNAL_RISING_EDGE", "EXTERNAL_SIGNAL_PULSE", "EXTERNAL_GENERATOR_RISING_EDGE",
           "APS_FRAME_START", "APS_EXPOSURE_START", "TIMESTAMP_RESET")


def store_events(store) -> np.ndarray:
    """A dv.EventStore as EVENT_DTYPE."""
    a = store.numpy()
    ev = np.empty(len(a), EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = a["timestamp"], a["x"], a["y"], a["polarity"]
    return ev


def trigger_array(triggers) -> np.ndarray:
    out = np.empty(len(triggers), TRIGGER_DTYPE)
    for i, tr in enumerate(triggers):  # triggers are few: a plain loop is enough
        out[i] = (tr.timestamp, int(tr.type), tr.type.name in _RISING)
    return out


class Aedat4Reader(EventReader):
    """Events of an AEDAT4 recording, batch by batch as dv-processing reads them."""

    format = "AEDAT4"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        rec = self._open()
        if not rec.isEventStreamAvailable():
            raise EventFileError(self.path, 0, "AEDAT4 file without an event stream",
                                 f"its streams are {rec.getStreamNames()}")
        self.width, self.height = (int(v) for v in rec.getEventResolution())
        self.camera_name = rec.getCameraName()

    def _open(self):
        import dv_processing as dv
        try:
            return dv.io.MonoCameraRecording(str(self.path))
        except Exception as exc:  # dv-processing raises RuntimeError/ValueError of its own
            raise EventFileError(self.path, 0, f"dv-processing cannot read it as AEDAT4: {exc}",
                                 "the file is truncated or corrupt") from None

    def triggers(self) -> np.ndarray:
        rec = self._open()
        if not rec.isTriggerStreamAvailable():
            return empty_triggers()
        t0, t1 = rec.getTimeRange()
        got = rec.getTriggersTimeRange(int(t0), int(t1) + 1)
        return trigger_array(got) if got is not None else empty_triggers()

    def chunks_and_triggers(self, max_events: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rec = self._open()
        triggers = self.triggers()
        k = 0
        while True:
            try:
                store = rec.getNextEventBatch()
            except Exception as exc:
                raise EventFileError(self.path, 0, f"dv-processing stopped reading: {exc}",
                                     "the file is truncated or corrupt") from None
            if store is None:
                if not rec.isRunning():
                    break
                continue
            ev = store_events(store)
            for i in range(0, len(ev), max_events):
                part = ev[i:i + max_events]
                j = k + int(np.searchsorted(triggers["t"][k:], part["t"][-1], "right")) if len(part) else k
                yield part, triggers[k:j]
                k = j
        if k < len(triggers):
            yield np.empty(0, EVENT_DTYPE), triggers[k:]


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
