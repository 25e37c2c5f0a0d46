"""Where the shared real recordings live (never copied into this repository)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """`STREAMER_DATA`, or `../shared/data` beside the project root."""
    return Path(os.environ.get("STREAMER_DATA", ROOT.parent / "shared" / "data")).resolve()


def data_path(*parts: str) -> Path:
    return data_dir().joinpath(*parts)
