"""Triggers as NumPy arrays, and dv-processing's event stores and triggers converted to them.

Imports no decoder (no Numba): the AEDAT4 helper process starts on this alone.
"""
from __future__ import annotations

import numpy as np

from streamer.streams import EVENT_DTYPE

# External triggers: time (µs, device clock), channel id, edge (1 rising, 0 falling).
TRIGGER_DTYPE = np.dtype([("t", "<i8"), ("id", "<i2"), ("p", "i1")])


def empty_triggers(n: int = 0) -> np.ndarray:
    return np.zeros(n, TRIGGER_DTYPE)


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
