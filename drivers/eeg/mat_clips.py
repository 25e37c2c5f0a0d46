"""MATLAB clips (`data` channels x samples, a sampling rate, `channels` names), read by
scipy in a helper process (`python -m drivers.eeg.mat_clips`).

scipy's MATLAB reader is compiled code: on a corrupt file it can crash the process (a
size field overwritten in a real clip makes it read out of bounds) or try to allocate
what a damaged header declares. In the helper, with its address space capped, either
becomes an error naming the file. One helper serves all the clips of a node.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from drivers.helper_process import HelperError, HelperProcess

RATE_KEYS = ("freq", "sfreq", "sampling_frequency", "fs")
_HELPER: HelperProcess | None = None


class MatError(ValueError):
    pass


def read_clip(path: str | Path, sfreq: float | None) -> tuple[np.ndarray, float, list[str]]:
    """(data (channels, samples) as stored, sampling rate, channel names): in this process."""
    import scipy.io

    try:
        m = scipy.io.loadmat(path, squeeze_me=False)
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for bad files
        raise MatError(f"not a readable MATLAB file: {type(exc).__name__}: {exc}") from exc
    data = m.get("data")
    if not isinstance(data, np.ndarray) or data.ndim != 2:
        raise MatError(f"expected a 2-D variable 'data' (channels x samples); found "
                       f"{', '.join(k for k in m if not k.startswith('__'))}")
    for key in RATE_KEYS:
        if key in m and sfreq is None:
            sfreq = float(np.ravel(m[key])[0])
    if sfreq is None:
        raise MatError("no sampling rate in the file (freq, sfreq, fs); give `sfreq`")
    return np.asarray(data, dtype=np.float64), sfreq, _mat_names(m.get("channels"), data.shape[0])


def load_clip(path: str | Path, sfreq: float | None) -> tuple[np.ndarray, float, list[str]]:
    """`read_clip` in the shared helper process; any failure is a MatError naming the file."""
    global _HELPER
    if _HELPER is None:
        # room for the largest clips, not for what a damaged header may declare
        _HELPER = HelperProcess("drivers.eeg.mat_clips", stall_s=60, memory_bytes=4 << 30)
    meta, data = None, None
    try:
        for kind, payload in _HELPER.request(path=str(path), sfreq=sfreq):
            if kind == b"J":
                meta = json.loads(bytes(payload))
            else:
                data = np.frombuffer(payload, np.float64).reshape(meta["shape"])
    except HelperError as exc:
        text = str(exc).removeprefix("MatError: ")
        hint = "; the file is corrupt: copy it again from its source" if exc.crashed else ""
        raise MatError(f"{path}: {text}{hint}") from None
    return data, meta["sfreq"], meta["names"]


def handle(req: dict, send) -> None:
    data, sfreq, names = read_clip(req["path"], req["sfreq"])
    data = np.ascontiguousarray(data)
    send(b"J", json.dumps({"shape": list(data.shape), "sfreq": sfreq, "names": names}).encode())
    send(b"A", data)


def _mat_names(channels, n: int) -> list[str]:
    names: list[str] = []

    def walk(x) -> None:  # MATLAB cell arrays arrive as nested object arrays
        if isinstance(x, str):
            names.append(x)
        elif isinstance(x, np.ndarray):
            if x.dtype.kind == "U":
                names.extend(str(v) for v in np.ravel(x))
            elif x.dtype.names:
                for name in x.dtype.names:
                    walk(x[name])
            else:
                for v in np.ravel(x):
                    walk(v)

    if channels is not None:
        walk(channels)
    return names if len(names) == n else [f"ch{i + 1}" for i in range(n)]


if __name__ == "__main__":
    from drivers.helper_process import serve
    serve(handle)
