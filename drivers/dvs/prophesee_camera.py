"""A live Prophesee camera through the Metavision SDK (metavision_core / metavision_hal),
behind the few methods of a dv-processing input that the dvs.camera node uses."""
from __future__ import annotations

import numpy as np

from streamer.node import Unavailable
from streamer.streams import EVENT_DTYPE

from .readers import TRIGGER_DTYPE


def _serials() -> list[str]:
    try:
        from metavision_hal import DeviceDiscovery
        return [str(s) for s in DeviceDiscovery.list()]
    except Exception:  # an SDK without discovery: nothing more to say
        return []


class PropheseeInput:
    """Events in batches of `batch_us` from the camera `serial` (empty: the first)."""

    def __init__(self, serial: str, batch_us: int, biases: dict[str, int]) -> None:
        try:
            from metavision_core.event_io import EventsIterator
        except ImportError:
            raise Unavailable("dvs.camera: backend 'prophesee' needs the Metavision SDK "
                               "(metavision_core), which is not installed") from None
        try:
            self._iterator = EventsIterator(input_path=serial, mode="delta_t", delta_t=int(batch_us))
        except Exception as exc:
            raise Unavailable(f"dvs.camera: cannot open Prophesee camera {serial or '(first found)'!r}: "
                               f"{exc}; cameras found: {', '.join(_serials()) or 'none'}") from None
        self._height, self._width = (int(v) for v in self._iterator.get_size())
        self._reader = self._iterator.reader
        if biases:
            ll = self._reader.device.get_i_ll_biases()
            for name, value in biases.items():
                if not ll.set(name, int(value)):
                    raise ValueError(f"dvs.camera: the camera refused bias {name}={value}; "
                                     f"its biases are {sorted(ll.get_all_biases())}")
        self._batches = iter(self._iterator)
        self._running = True

    def isEventStreamAvailable(self) -> bool:
        return True

    def isTriggerStreamAvailable(self) -> bool:
        return True

    def getEventResolution(self) -> tuple[int, int]:
        return self._width, self._height

    def isRunning(self) -> bool:
        return self._running

    def getNextEventBatch(self) -> np.ndarray | None:
        try:
            cd = next(self._batches)
        except StopIteration:
            self._running = False
            return None
        ev = np.empty(len(cd), EVENT_DTYPE)
        for f in ("t", "x", "y", "p"):
            ev[f] = cd[f]
        return ev

    def getNextTriggerBatch(self) -> np.ndarray:
        got = self._reader.get_ext_trigger_events()
        tr = np.empty(len(got), TRIGGER_DTYPE)
        if len(got):
            tr["t"], tr["id"], tr["p"] = got["t"], got["id"], got["p"]
            self._reader.clear_ext_trigger_events()
        return tr

    def close(self) -> None:
        self._running = False
