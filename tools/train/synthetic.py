"""Training sets from the synthetic generators: the event camera's shape classes and
synthetic motor-imagery EEG, spike-encoded.

Both generators expose `generate_trials(n, seed, ...)`. What they return is normalised
here: a sequence of trials (objects or dicts with events|data and label), or a tuple
(trials, labels[, classes]).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .data import Dataset, bin_events, split


def _field(obj: Any, *names: str) -> Any:
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


def _unpack(result: Any) -> tuple[list, np.ndarray, list[str] | None, Any]:
    """(payloads, integer labels, class names or None, first trial) of generate_trials()."""
    classes = None
    if isinstance(result, tuple) and len(result) in (2, 3) and not hasattr(result, "_fields"):
        payloads, labels = list(result[0]), list(result[1])
        classes = list(result[2]) if len(result) == 3 else None
        first = None
    else:
        trials = list(result)
        if not trials:
            raise ValueError("generate_trials returned no trials")
        first = trials[0]
        payloads = [_field(t, "events", "data", "x", "samples") for t in trials]
        labels = [_field(t, "label", "y", "target", "class_index") for t in trials]
        classes = _field(first, "classes", "labels")
    if any(p is None for p in payloads) or any(lab is None for lab in labels):
        raise ValueError("generate_trials: cannot find events/data and label in the trials it returned")
    if labels and isinstance(labels[0], str):
        names = classes or sorted(set(labels))
        labels = [names.index(lab) for lab in labels]
        classes = list(names)
    y = np.asarray(labels, dtype=np.int64)
    return payloads, y, classes, first


def load_synthetic_dvs(n: int, seed: int, bin_ms: float = 10.0, test_fraction: float = 0.2) -> Dataset:
    """Shape classes of the synthetic event camera, binned like the runtime's events.bin."""
    try:
        from drivers.dvs import synthetic
    except ImportError as exc:
        raise ImportError(f"the synthetic event camera (drivers.dvs.synthetic) is not available: {exc}") from None
    result = synthetic.generate_trials(n, seed=seed)
    payloads, y, classes, first = _unpack(result)
    width = _field(first, "width") or getattr(synthetic, "WIDTH", None)
    height = _field(first, "height") or getattr(synthetic, "HEIGHT", None)
    if width is None or height is None:
        width = int(max(int(e["x"].max()) for e in payloads if len(e)) + 1)
        height = int(max(int(e["y"].max()) for e in payloads if len(e)) + 1)
    bin_us = int(round(bin_ms * 1e3))
    t0 = [int(e["t"][0]) if len(e) else 0 for e in payloads]
    span = max(int(e["t"][-1]) - t for e, t in zip(payloads, t0) if len(e)) + 1
    n_bins = max(1, -(-span // bin_us))
    x = np.stack([bin_events(e, n_bins, bin_us, int(width), int(height), t) for e, t in zip(payloads, t0)])
    classes = classes or getattr(synthetic, "CLASSES", None) or [str(c) for c in range(int(y.max()) + 1)]
    return Dataset(*split(x, y, test_fraction, seed), classes=list(classes), dt_s=bin_us * 1e-6,
                   meta={"data": "synthetic-dvs", "bin_us": bin_us, "n_bins": n_bins,
                         "width": int(width), "height": int(height)})


@njit(cache=True, nogil=True)
def delta_encode(x: np.ndarray, threshold: np.ndarray, step: int) -> np.ndarray:
    """Send-on-delta spikes of (channels, samples): an 'up' spike each time a channel has
    risen by threshold[c] since its last spike, 'down' when it fell; counts per step of
    `step` samples -> (steps, 2 * channels) with ups in [:C], downs in [C:]."""
    c_n, n = x.shape
    steps = n // step
    out = np.zeros((steps, 2 * c_n), np.float32)
    for c in range(c_n):
        ref = x[c, 0]
        th = threshold[c]
        for i in range(steps * step):
            d = x[c, i] - ref
            while d >= th:
                out[i // step, c] += 1
                ref += th
                d -= th
            while d <= -th:
                out[i // step, c_n + c] += 1
                ref -= th
                d += th
    return out


def load_synthetic_eeg(n: int, seed: int, step_ms: float = 20.0, band_hz: tuple[float, float] = (8.0, 30.0),
                       test_fraction: float = 0.2) -> Dataset:
    """Motor-imagery trials of the synthetic EEG: causal 8-30 Hz band-pass (as a runtime
    filter would see them), then send-on-delta spikes per channel (threshold half the
    channel's standard deviation over the training set), counted per step."""
    from scipy.signal import butter, sosfilt

    try:
        from drivers.eeg import synthetic
    except ImportError as exc:
        raise ImportError(f"the synthetic EEG generator (drivers.eeg.synthetic) is not available: {exc}") from None
    result = synthetic.generate_trials(n, seed=seed)
    payloads, y, classes, first = _unpack(result)
    sfreq = _field(first, "sfreq") or getattr(synthetic, "SFREQ", None)
    if sfreq is None:
        raise ValueError("synthetic EEG trials carry no sfreq")
    data = np.stack([np.asarray(_field(p, "data") if not isinstance(p, np.ndarray) else p, np.float64)
                     for p in payloads])  # (N, C, S)
    sos = butter(4, band_hz, btype="bandpass", fs=float(sfreq), output="sos")
    filt = sosfilt(sos, data, axis=-1)
    threshold = 0.5 * filt.std(axis=(0, 2))
    step = max(1, int(round(step_ms * 1e-3 * float(sfreq))))
    x = np.stack([delta_encode(np.ascontiguousarray(f), threshold, step) for f in filt])
    classes = classes or getattr(synthetic, "CLASSES", None) or [str(c) for c in range(int(y.max()) + 1)]
    return Dataset(*split(x, y, test_fraction, seed), classes=list(classes), dt_s=step / float(sfreq),
                   meta={"data": "synthetic-eeg", "sfreq": float(sfreq), "band_hz": list(band_hz),
                         "step_samples": step, "delta_threshold": threshold.tolist()})
