"""Event-camera drivers: file readers and writers (Prophesee RAW EVT 2.0/2.1/3.0, DAT,
AEDAT4, N-MNIST), and the dvs.* sources built on them."""
from .errors import EventFileError
from .readers import TRIGGER_DTYPE, EventReader, open_events, read_events

__all__ = ["EventFileError", "EventReader", "TRIGGER_DTYPE", "open_events", "read_events"]
