"""The training and calibration tools and the dataset readers are installed with the
project: they run from any folder, as `python -m tools.X` and as `streamer X`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.datasets import data_dir

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
REINSTALL = "the installed project lacks `tools`: reinstall it (pip install -e .)"


def _outside(tmp_path: Path, *cmd: str) -> subprocess.CompletedProcess:
    """`cmd` run from a folder outside the repository, with nothing added to its path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("cmd,usage", [
    ((sys.executable, "-m", "tools.train", "--help"), "usage: python -m tools.train"),
    ((str(BIN / "streamer"), "train", "--help"), "usage: streamer train"),
    ((sys.executable, "-m", "tools.calibrate", "--help"), "usage: python -m tools.calibrate"),
    ((str(BIN / "streamer"), "calibrate", "--help"), "usage: streamer calibrate"),
], ids=["python-m-train", "streamer-train", "python-m-calibrate", "streamer-calibrate"])
def test_tool_help_runs_outside_the_repository(tmp_path, cmd, usage):
    out = _outside(tmp_path, *cmd)
    assert out.returncode == 0, f"{REINSTALL}\n{out.stderr[-2000:]}"
    assert out.stdout.startswith(usage), out.stdout[:300]
    options = ("--model", "--data") if "calibrate" in usage else ("--data", "--out")
    assert all(option in out.stdout for option in options), out.stdout


def test_tool_arguments_are_the_tools_own(tmp_path):
    """`streamer train` hands its arguments to the tool, whose parser names what is wrong."""
    out = _outside(tmp_path, str(BIN / "streamer"), "train", "--data", "no-such-set", "--out", "x.nir")
    assert out.returncode == 2
    assert "streamer train: error: argument --data: invalid choice: 'no-such-set'" in out.stderr
    assert not (tmp_path / "x.nir").exists()


def test_dataset_reader_finds_the_same_recordings_from_anywhere(tmp_path):
    out = _outside(tmp_path, sys.executable, "-c", "from tools.datasets import data_dir; print(data_dir())")
    assert out.returncode == 0, f"{REINSTALL}\n{out.stderr[-2000:]}"
    assert Path(out.stdout.strip()) == data_dir()
