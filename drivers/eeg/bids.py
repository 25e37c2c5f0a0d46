"""A native recording as a BIDS dataset through mne-bids: EEG, or iEEG when its channels
are intracranial (seeg, ecog, dbs), in BrainVision float32 (samples within float32
rounding of what was recorded), with events.tsv from its Markers, channels.tsv and the
JSON sidecars; the native recording itself is kept under the dataset's sourcedata/."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from .mne_export import raw_from_recording

IEEG_TYPES = frozenset({"seeg", "ecog", "dbs"})
_LABEL = re.compile(r"^[A-Za-z0-9]+$")  # BIDS labels: letters and digits only


def bids_label(key: str, value: Any) -> str:
    """A BIDS entity label from a parameter, or a ValueError saying what is allowed."""
    text = str(int(value)) if key == "run" and str(value).isdigit() else str(value)  # as BIDSPath(run=3) names it
    if key == "run" and not text.isdigit():
        raise ValueError(f"BIDS run must be a number, got {value!r}")
    if not _LABEL.match(text):
        raise ValueError(f"BIDS {key} must be letters and digits only (no '-', '_' or spaces), got {value!r}")
    return text


def write_bids(source: str | Path, out: str | Path, *, stream: str | None = None,
               info: dict[str, Any] | None = None) -> Path:
    """Write the Samples stream of `source` (default: the only one) into the BIDS dataset
    rooted at `out`, with `info`'s subject and task (required), session and run, and
    `line_freq_hz` (the mains frequency, "n/a" in the sidecar when not given). Returns
    the data file written."""
    import mne_bids

    info = dict(info or {})
    missing = [k for k in ("subject", "task") if not info.get(k)]
    if missing:
        raise ValueError(f"BIDS needs {' and '.join(missing)} (record: `bids: {{subject: ..., task: ...}}`; "
                         "streamer convert: --subject, --task)")
    entities = {k: bids_label(k, info[k]) for k in ("subject", "session", "task", "run") if info.get(k) is not None}
    raw = raw_from_recording(source, stream)
    if info.get("line_freq_hz"):
        raw.info["line_freq"] = float(info["line_freq_hz"])
    datatype = "ieeg" if IEEG_TYPES & set(raw.get_channel_types()) else "eeg"
    path = mne_bids.BIDSPath(root=out, datatype=datatype, **entities)
    written = mne_bids.write_raw_bids(raw, path, format="BrainVision", allow_preload=True, overwrite=True, verbose="error")
    # The source as recorded, for what BIDS has no place for (other streams, timing).
    src = Path(out) / "sourcedata" / f"sub-{entities['subject']}"
    if "session" in entities:
        src = src / f"ses-{entities['session']}"
    src.mkdir(parents=True, exist_ok=True)
    if Path(source).resolve() != (src / Path(source).name).resolve():
        shutil.copyfile(source, src / (path.basename + ".streamer-rec"))
    return Path(written.fpath)
