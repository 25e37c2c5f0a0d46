"""The signal chain inside `streamer run` (one process per node) equals offline SciPy/NumPy."""
from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest
import scipy.signal

from nodes.signal.filter import design
from streamer import recording
from tests.conftest import need
from tests.runtime_helpers import run

pytestmark = pytest.mark.integration

GRAPH = Path(__file__).parent / "graphs" / "signal_chain_record.yaml"


def test_chain_across_processes_equals_offline(shared_data, tmp_path):
    path = need(shared_data / "eeg" / "S001R04.edf")
    out = tmp_path / "chain.rec"
    code, _, err = run(GRAPH, "--set", f"eeg.path={path}", "--set", f"rec.path={out}", tmp=tmp_path)
    assert code == 0, err[-3000:]
    got = recording.read(out)
    x = mne.io.read_raw_edf(path, preload=True, verbose="error").get_data().astype(np.float32)
    sos = design("bandpass", 160.0, 8, 30, 4, None, 30.0, "butter")
    y = scipy.signal.sosfilt(sos, x.astype(np.float64), axis=1)
    car = y - y.mean(axis=0)
    np.testing.assert_allclose(got["clean"].data, car, rtol=1e-4, atol=1e-4 * np.abs(car).max())
    assert np.all(np.diff(got["clean"].seq) == 1)
    # Artifact markers match plain thresholding of the same signal: every start is a crossing.
    starts = [(m["channel"], m["sample"]) for m in got["artifacts"].data if m["label"] == "artifact"]
    names = got["clean"].meta["ch_names"]
    over = np.abs(car.astype(np.float32)) > 1e-4
    onsets = over & ~np.concatenate([np.zeros((len(names), 1), bool), over[:, :-1]], axis=1)
    assert starts and sorted(starts) == sorted((names[c], int(s)) for c, s in zip(*np.nonzero(onsets)))
    f, p = scipy.signal.welch(car[:, 40 * 10:40 * 10 + 160], 160.0, nperseg=80, axis=-1)
    want = np.stack([p[:, (f >= 8) & (f <= 13)].mean(1), p[:, (f >= 13) & (f <= 30)].mean(1)], axis=1)
    np.testing.assert_allclose(got["power"].data[10], want, rtol=1e-3)
    down = scipy.signal.resample_poly(x.astype(np.float64), 1, 2, axis=1)
    assert got["down"].data.shape == down.shape and got["down"].meta["sfreq"] == 80.0
    np.testing.assert_allclose(got["down"].data, down, rtol=1e-4, atol=1e-5 * np.abs(down).max())
