"""Checks shared by the signal nodes: a clear error when the input is not what they need."""
from __future__ import annotations

import numpy as np

from streamer.streams import SAMPLES, Message


def require_samples(msg: Message, node: str) -> float:
    """The sampling rate of a Samples chunk; a ValueError naming the node and what to
    connect instead when the message is another stream or lacks sfreq/ch_names."""
    if msg.stream != SAMPLES:
        raise ValueError(f"{node} takes a Samples stream (channels, samples), got {msg.stream}; "
                         "connect it to a signal source (eeg.*) or a node that outputs Samples")
    data = msg.data
    if not isinstance(data, np.ndarray) or data.ndim != 2:
        raise ValueError(f"{node}: Samples data must be a 2-D array (channels, samples), "
                         f"got {getattr(data, 'shape', type(data).__name__)}")
    sfreq = msg.meta.get("sfreq")
    if not sfreq or not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"{node}: the Samples chunk has no valid sfreq ({sfreq!r}); "
                         "its source must set the sampling rate")
    names = msg.meta.get("ch_names")
    if names is None or len(names) != data.shape[0]:
        raise ValueError(f"{node}: {data.shape[0]} channels but ch_names is {names!r}")
    return float(sfreq)
