"""Recordings cut short: the length a file declares against what it holds.

MNE reads a truncated EDF or BDF silently (it infers the length from the file size), an
EEGLAB recording whose .fdt is cut fails only when the replay reaches the cut, and a cut
FIF ends in a tag MNE cannot read. Each is found here from the header (EDF, BDF: records
x record size; GDF: the same from MNE's header; EEGLAB: pnts x nbchan float32 samples
against the .fdt size) or from MNE's warning (FIF, which declares no length).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Truncation:
    """A recording holding `present` of the `declared` samples (None: the file declares none)."""

    path: Path
    sfreq: float
    declared: int | None
    present: int
    detail: str

    def _span(self) -> str:
        if self.declared is None:
            return f"{self.present / self.sfreq:g} s ({self.present} samples) can be read"
        return (f"its header declares {self.declared / self.sfreq:g} s ({self.declared} samples), the file holds "
                f"{self.present / self.sfreq:g} s ({self.present} samples)")

    def missing(self) -> str:
        if self.declared is None:
            return f"everything after {self.present / self.sfreq:g} s"
        return f"{self.present / self.sfreq:g}-{self.declared / self.sfreq:g} s"

    def error(self) -> str:
        return (f"{self.path}: the recording is truncated: {self._span()} ({self.detail}); copy it again from "
                f"its source, or set allow_truncated: true to replay what is there")

    def warning(self) -> str:
        return (f"{self.path}: the recording is truncated, {self.missing()} missing; replaying what is there "
                f"({self._span()})")


def _ascii_int(raw: bytes) -> int:
    return int(raw.decode("ascii", "replace").strip())


def edf_truncation(path: Path) -> Truncation | None:
    """EDF and BDF: header bytes + records x (samples per record x 2 or 3 bytes) vs the file size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            return Truncation(path, 1.0, None, 0, f"{size} bytes, less than the 256 of the fixed header")
        try:
            header_bytes, n_records = _ascii_int(head[184:192]), _ascii_int(head[236:244])
            duration, ns = float(head[244:252].decode("ascii").strip()), _ascii_int(head[252:256])
        except ValueError:
            return None  # a malformed header is MNE's to report
        f.seek(256 + 216 * ns)
        try:
            spr = [_ascii_int(f.read(8)) for _ in range(ns)]
        except ValueError:
            return None
    width = 3 if head[:1] == b"\xff" else 2
    record = sum(spr) * width
    if n_records < 0 or record <= 0 or duration <= 0:
        return None  # -1: a recording never closed declares no length
    whole = max(0, (size - header_bytes) // record)
    if whole >= n_records:
        return None
    per_record = max(spr)
    return Truncation(path, per_record / duration, n_records * per_record, whole * per_record,
                      f"{n_records} records of {record} bytes after a {header_bytes}-byte header need "
                      f"{header_bytes + n_records * record} bytes, the file has {size}")


def gdf_truncation(path: Path, raw) -> Truncation | None:
    """GDF: MNE's parsed header (data offset, records, record bytes) vs the file size."""
    extra = raw._raw_extras[0]
    size = os.path.getsize(path)
    offset, n_records, record = int(extra["data_offset"]), int(extra["n_records"]), int(extra["bytes_tot"])
    whole = max(0, (size - offset) // record) if record > 0 else n_records
    if n_records <= 0 or whole >= n_records:
        return None
    per_record = int(max(extra["n_samps"]))
    return Truncation(path, raw.info["sfreq"], n_records * per_record, whole * per_record,
                      f"{n_records} records of {record} bytes from byte {offset} need {offset + n_records * record} "
                      f"bytes, the file has {size}")


def eeglab_truncation(path: Path, raw) -> Truncation | None:
    """EEGLAB: pnts x nbchan float32 samples in the .fdt beside the .set."""
    data = Path(raw.filenames[0]) if raw.filenames and raw.filenames[0] else None
    if data is None or data.suffix.lower() != ".fdt" or not data.exists():
        return None  # the data are inside the .set: MATLAB's reader checks them
    nchan = raw.info["nchan"]
    size = os.path.getsize(data)
    present = size // (4 * nchan)
    if present >= raw.n_times:
        return None
    return Truncation(path, raw.info["sfreq"], int(raw.n_times), int(present),
                      f"{raw.n_times} samples x {nchan} channels x 4 bytes = {raw.n_times * nchan * 4} bytes "
                      f"in {data.name}, which has {size}")


def fif_truncation(path: Path, raw, caught: list[warnings.WarningMessage]) -> Truncation | None:
    """FIF declares no length: a cut file is one where MNE warned of a tag it could not read;
    what can be read ends before the first buffer that fails."""
    notes = [str(w.message) for w in caught if "tag" in str(w.message).lower()]
    if not notes:
        return None
    lo, hi = 0, int(raw.n_times)  # the longest readable prefix, by bisection on one-sample reads
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            raw.get_data(start=mid - 1, stop=mid)
            lo = mid
        except (ValueError, OSError):
            hi = mid - 1
    return Truncation(path, raw.info["sfreq"], None, lo, f"MNE: {notes[0]}")


def find_truncation(path: Path, raw=None, caught: list | None = None) -> Truncation | None:
    """The truncation of a recording MNE reads, if its format shows one. `raw` is the file
    opened by MNE (needed for GDF, EEGLAB and FIF), `caught` the warnings of that opening."""
    name = path.name.lower()
    if name.endswith((".edf", ".bdf")):
        return edf_truncation(path)
    if raw is None:
        return None
    if name.endswith(".gdf"):
        return gdf_truncation(path, raw)
    if name.endswith(".set"):
        return eeglab_truncation(path, raw)
    if name.endswith((".fif", ".fif.gz")):
        return fif_truncation(path, raw, caught or [])
    return None


def open_for_check(path: Path) -> Truncation | None:
    """The truncation check of `streamer check`: EDF/BDF from the header alone, GDF, EEGLAB
    and FIF from MNE's lazy opening (headers, no samples)."""
    name = path.name.lower()
    if name.endswith((".edf", ".bdf")):
        return edf_truncation(path)
    if not name.endswith((".gdf", ".set", ".fif", ".fif.gz")):
        return None
    import mne
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = mne.io.read_raw(path, preload=False, verbose="warning")
        except Exception:  # noqa: BLE001 - a file MNE cannot open is reported when it is replayed
            return None
    return find_truncation(path, raw, caught)
