"""Event-camera drivers: file readers and writers (Prophesee RAW EVT 2.0/2.1/3.0, DAT,
AEDAT4, N-MNIST), and the dvs.* sources built on them.

The readers are imported on first use, so that a module of this package (the AEDAT4
helper process) starts without the Numba decoders."""
from .errors import EventFileError

__all__ = ["EventFileError", "EventReader", "TRIGGER_DTYPE", "open_events", "read_events"]


def __getattr__(name: str):
    if name in __all__:
        from . import readers
        return getattr(readers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
