"""EEG drivers inside `streamer run` (one process per node, ZeroMQ between them)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import mne
import numpy as np
import pytest

from drivers.eeg.synthetic import CHANNELS, SyntheticEEG
from streamer import recording
from streamer.testing import run
from tests.conftest import need

pytestmark = pytest.mark.integration

GRAPHS = Path(__file__).parent / "graphs"


def start(graph: str, duration: float, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "streamer", "run", str(GRAPHS / graph), "--no-live",
                             "--duration", str(duration)], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 60) -> None:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]


def test_edf_replayed_and_recorded_across_processes(shared_data, tmp_path):
    path = need(shared_data / "eeg" / "S001R04.edf")
    out = tmp_path / "edf.rec"
    finish(start("eeg_file_record.yaml", 60, EDF=str(path), OUT=str(out)))
    got = recording.read(out)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    np.testing.assert_array_equal(got["eeg"].data, raw.get_data().astype(np.float32))
    assert np.all(np.diff(got["eeg"].seq) == 1)
    events, ids = mne.events_from_annotations(raw, verbose="error")
    names = {v: k for k, v in ids.items()}
    assert [(m["sample"], m["label"]) for m in got["markers"].data] == [(s, names[c]) for s, _, c in events]


def test_lsl_between_two_graphs(tmp_path):
    name = f"streamer-test-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "lsl.rec"
    receiver = start("eeg_lsl_receive.yaml", 4, LSL_NAME=name, OUT=str(out))
    publisher = start("eeg_lsl_publish.yaml", 4, LSL_NAME=name)
    finish(publisher)
    finish(receiver)
    got = recording.read(out)
    eeg = got["eeg"]
    assert eeg.meta["ch_names"] == CHANNELS and eeg.meta["ch_types"] == ["eeg"] * 16
    n = eeg.data.shape[1]
    assert n > 250  # a few seconds at 250 Hz arrived
    # The same seed in-process gives the reference; the inlet joined somewhere in it.
    ref = run(SyntheticEEG(seed=4, speed=0, n_trials=8, classes=["left", "right"], trial_s=1, rest_s=0.5))
    x = np.concatenate([m.data for m in ref["out"]], axis=1)
    start_at = np.flatnonzero(np.all(x[:, :x.shape[1] - n + 1].T == eeg.data[:, 0], axis=1))
    assert start_at.size == 1, "received samples are not a contiguous piece of the signal"
    np.testing.assert_array_equal(eeg.data, x[:, start_at[0]:start_at[0] + n])
    # LSL timestamps: one per sample, 4 ms apart on average, on the publisher's clock.
    assert eeg.times.size == n and abs(np.median(np.diff(eeg.times)) - 0.004) < 5e-4
    cues = [m["label"] for m in got["markers"].data]
    sent = [m.data["label"] for m in ref["markers"]]
    assert len(cues) >= 2 and any(sent[i:i + len(cues)] == cues for i in range(len(sent)))
