"""Standard formats a native recording converts to: XDF, BIDS, FIF, EDF, AEDAT4, EVT 3.0.

Each format is a function `write(source, out, *, stream, info) -> Path` that reads a
native recording (`streamer.recording`) and writes the format at `out`. They are named
here by module path and imported when asked for, as `streamer train` finds its tool:
the runtime itself imports nothing of MNE or dv-processing.

A recorder with `format:` other than native writes the native file first (crash-safe
while the run lasts) and converts it when it closes, in a process of its own
(`convert_in_background`): the conversion finishes even when the recorder's process is
stopped or killed right after, and a failed one leaves the native file for
`streamer convert`. Its outcome is written next to the native file as
`<native>.convert.json`; `wait()` reads it.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .recording import Recording

# format -> (writer "module:function", suffix of the default output beside the native file)
FORMATS: dict[str, tuple[str, str]] = {
    "xdf": ("streamer.xdf:write_xdf", ".xdf"),
    "bids": ("drivers.eeg.bids:write_bids", "-bids"),
    "fif": ("drivers.eeg.mne_export:write_fif", "_raw.fif"),
    "edf": ("drivers.eeg.mne_export:write_edf", ".edf"),
    "aedat4": ("drivers.dvs.rec_export:write_aedat4_recording", ".aedat4"),
    "evt3": ("drivers.dvs.rec_export:write_evt3_recording", ".raw"),
}
# The BIDS entities and what they say; a recorder's `bids:` and `streamer convert` take them.
BIDS_FIELDS = ("root", "subject", "session", "task", "run")


class ConversionError(RuntimeError):
    pass


def default_out(source: str | Path, fmt: str) -> Path:
    """Where a conversion of `source` goes unless told: beside it, with the format's suffix
    (for BIDS, a folder `<name>-bids` as the dataset's root)."""
    source = Path(source)
    stem = source.name[:-len(source.suffix)] if source.suffix else source.name
    return source.with_name(stem + FORMATS[_known(fmt)][1])


def _known(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConversionError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def writer(fmt: str) -> Any:
    module, _, func = FORMATS[_known(fmt)][0].partition(":")
    try:
        return getattr(importlib.import_module(module), func)
    except ImportError as exc:
        raise ConversionError(f"format {fmt}: cannot import {module} ({exc}); install the project with "
                              "`pip install -e .`") from exc


def convert(source: str | Path, fmt: str, out: str | Path | None = None, *, stream: str | None = None,
            info: dict[str, Any] | None = None) -> Path:
    """Convert the native recording `source` to `fmt` at `out` (default `default_out`).

    `stream`: the stream to write when the format holds one (BIDS, FIF, EDF: a Samples
    stream; AEDAT4, EVT 3.0: an Events stream), by default the only one of its type.
    `info`: BIDS entities (`root`, `subject`, `session`, `task`, `run`) and any other
    metadata the format keeps (XDF writes them into its file header). For BIDS, `out` is
    the dataset's root unless `info["root"]` names it. Returns what was written (for
    BIDS, the recording's file in the dataset)."""
    source = Path(source)
    if not source.exists():
        raise ConversionError(f"{source}: no such recording")
    info = {k: v for k, v in (info or {}).items() if v is not None}
    if out is None:
        out = info.get("root") if fmt == "bids" and info.get("root") else default_out(source, fmt)
    return Path(writer(fmt)(source, Path(out), stream=stream, info=info))


def pick_stream(rec: "Recording", stream_type: str, name: str | None, path: Path) -> str:
    """The name of the stream to write: `name`, or the only stream of `stream_type`."""
    names = [n for n, r in rec.items() if r.stream == stream_type]
    if name is not None:
        if name not in rec:
            raise ValueError(f"{path}: no stream {name!r}; it holds {', '.join(rec) or 'none'}")
        if rec[name].stream != stream_type:
            raise ValueError(f"{path}: stream {name!r} is {rec[name].stream}, not {stream_type}")
        return name
    if len(names) != 1:
        which = f"several ({', '.join(names)}): name one with --stream (or `stream:`)" if names else "none"
        raise ValueError(f"{path}: this format writes one stream of type {stream_type}; the recording holds {which}")
    return names[0]


def status_path(source: str | Path) -> Path:
    source = Path(source)
    return source.with_name(source.name + ".convert.json")


def convert_in_background(source: str | Path, fmt: str, out: str | Path | None = None, *,
                          stream: str | None = None, info: dict[str, Any] | None = None) -> subprocess.Popen:
    """Start the conversion in a process of its own session (it outlives the caller's
    process group) and return at once; its outcome goes to `status_path(source)`."""
    status = status_path(source)
    status.unlink(missing_ok=True)
    job = {"source": str(source), "format": fmt, "out": None if out is None else str(out),
           "stream": stream, "info": info or {}}
    return subprocess.Popen([sys.executable, "-m", "streamer.formats", "--job", json.dumps(job)],
                            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=os.getcwd())


def wait(source: str | Path, timeout_s: float = 120.0) -> Path:
    """Wait for a recorder's conversion of `source` to end; returns what it wrote, raises
    ConversionError with its reason if it failed or has not ended in `timeout_s`."""
    status = status_path(source)
    deadline = time.monotonic() + timeout_s
    while not status.exists():
        if time.monotonic() > deadline:
            raise ConversionError(f"{source}: no conversion ended within {timeout_s:g} s (no {status.name}); "
                                  f"convert it with `streamer convert {source} --to FORMAT`")
        time.sleep(0.05)
    result = json.loads(status.read_text())
    if not result.get("ok"):
        raise ConversionError(f"{source}: conversion to {result.get('format')} failed: {result.get('error')}; "
                              "the native recording is intact")
    return Path(result["out"])


def _run_job(job: dict) -> int:
    """A background conversion: its outcome as JSON beside the native file (written whole)."""
    source = Path(job["source"])
    try:
        out = convert(source, job["format"], job.get("out"), stream=job.get("stream"), info=job.get("info"))
        result = {"ok": True, "format": job["format"], "out": str(out)}
    except Exception as exc:  # noqa: BLE001 - whatever it was, the status file says it
        result = {"ok": False, "format": job["format"], "error": f"{type(exc).__name__}: {exc}"}
    tmp = status_path(source).with_suffix(".part")
    tmp.write_text(json.dumps(result))
    tmp.replace(status_path(source))
    return 0 if result["ok"] else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a recording to XDF, BIDS, FIF, EDF, AEDAT4 or EVT 3.0",
                       description="Convert a native recording (written by `record`) to a standard format. "
                       "BIDS (EEG or iEEG, through mne-bids) needs --subject and --task; --out is then the "
                       "dataset's root. Exit status 1 with the reason when it cannot.")
    p.add_argument("recording", help="native recording (STREAMER-REC)")
    p.add_argument("--to", required=True, choices=list(FORMATS), help="format to write")
    p.add_argument("--out", help="file to write (BIDS: the dataset's root); default beside the recording")
    p.add_argument("--stream", help="stream to write when the format holds one (default: the only one of its type)")
    for name in BIDS_FIELDS[1:]:
        p.add_argument(f"--{name}", help=f"BIDS {name}")
    p.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    info = {k: getattr(args, k) for k in BIDS_FIELDS[1:]}
    try:
        out = convert(args.recording, args.to, args.out, stream=args.stream, info=info)
    except (ConversionError, ValueError, OSError) as exc:
        print(f"streamer convert: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m streamer.formats")
    parser.add_argument("--job", required=True, help="a conversion as JSON (as convert_in_background gives it)")
    sys.exit(_run_job(json.loads(parser.parse_args().job)))
