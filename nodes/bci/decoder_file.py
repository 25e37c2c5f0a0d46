"""A fitted decoder saved with what produced it: one JSON file, no pickle.

The file holds the decoder's kind and parameters (arrays as nested lists, small: CSP
filters, an LDA, a tangent-space reference and a logistic regression) and its provenance:
channels, sampling rate, the filters and epoch window it expects, the training
recording's path and SHA-256, the trials per class and the cross-validated score. A
spiking decoder points to its NIR file beside it. `bci.decoder` loads it online and
refuses a stream whose channels or sampling rate differ from those it was fitted on.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "streamer-decoder"
VERSION = 1
KINDS = ("csp_lda", "ts_lr", "snn")


class DecoderFileError(ValueError):
    """A decoder file that cannot be used; the message names the file and the field."""


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def save_decoder(path: str | Path, model: dict) -> Path:
    """Write `model` (kind, classes, names, channels, sfreq, preprocessing, params,
    training) as JSON; written to a temporary file first, so a crash leaves the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": FORMAT, "version": VERSION, **_plain(model)}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(body, indent=1, allow_nan=False))
    tmp.replace(path)
    return path


def load_decoder(path: str | Path) -> dict:
    """The decoder in `path`, checked: DecoderFileError names the file and what is wrong."""
    path = Path(path)
    try:
        model = json.loads(path.read_text())
    except OSError as exc:
        raise DecoderFileError(f"{path}: cannot read the decoder ({exc.strerror}); run the session's fit "
                               "phase first (streamer session PROTOCOL)") from None
    except ValueError as exc:
        raise DecoderFileError(f"{path}: not a decoder file (invalid JSON: {exc})") from None
    if not isinstance(model, dict) or model.get("format") != FORMAT:
        raise DecoderFileError(f"{path}: not a decoder file (no \"format\": \"{FORMAT}\")")
    if model.get("version") != VERSION:
        raise DecoderFileError(f"{path}: decoder file version {model.get('version')!r}; this release reads "
                               f"version {VERSION}: fit it again")
    for key, ok, what in (("kind", lambda v: v in KINDS, f"one of {', '.join(KINDS)}"),
                          ("classes", lambda v: isinstance(v, list) and len(v) == 2, "two class labels"),
                          ("channels", lambda v: isinstance(v, list) and v and all(isinstance(c, str) for c in v),
                           "a list of channel names"),
                          ("sfreq", lambda v: isinstance(v, (int, float)) and math.isfinite(v) and v > 0,
                           "a positive sampling rate"),
                          ("params", lambda v: isinstance(v, dict), "a map of the decoder's parameters")):
        if not ok(model.get(key)):
            raise DecoderFileError(f"{path}: field {key!r} must be {what}, got {str(model.get(key))[:60]!r}")
    model.setdefault("names", list(model["classes"]))
    model["path"] = str(path)
    return model
