"""streamer eval: a decoding graph judged pseudo-online on recordings, with MOABB's
splits; real nodes (eeg.file, filters, epochs, decoders) driven in one process."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from streamer.evaluation.evaluate import EvalError, evaluate
from tests.conftest import need

SFREQ = 160.0
GRAPH = """
name: synthetic-mi
nodes:
  eeg: {type: eeg.file, path: run1_raw.fif, speed: 1, chunk_ms: 100}
  filter: {type: signal.filter, kind: bandpass, l_freq_hz: 8, h_freq_hz: 30, order: 4}
  epochs: {type: signal.epochs, tmin_s: 0.5, tmax_s: 2.5, labels: [T1, T2]}
  decoder: {type: bci.csp_lda, classes: [T1, T2], names: [left, right], n_calibration: 10}
  out: {type: actuators.log}
edges:
  - eeg -> filter
  - filter -> epochs
  - eeg.markers -> epochs.markers
  - epochs -> decoder
  - decoder -> out
"""


def mi_run(path, seed, n_trials=20):
    """8 channels; during 0.5-2.5 s after a T1 cue channel 0 carries a 12 Hz rhythm,
    after T2 channel 1 does: what CSP is made for."""
    import mne

    rng = np.random.default_rng(seed)
    n = int((n_trials * 4 + 2) * SFREQ)
    x = rng.normal(size=(8, n)) * 1e-6
    labels = rng.permutation(["T1", "T2"] * (n_trials // 2))
    onsets = 1.0 + 4.0 * np.arange(n_trials)
    t = np.arange(int(2 * SFREQ)) / SFREQ
    for label, onset in zip(labels, onsets):
        start = int((onset + 0.5) * SFREQ)
        x[0 if label == "T1" else 1, start:start + len(t)] += 4e-6 * np.sin(2 * np.pi * 12 * t)
    raw = mne.io.RawArray(x, mne.create_info([f"E{i}" for i in range(8)], SFREQ, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations(onsets, 4.0, list(labels)))
    raw.save(path, verbose="error")
    return list(labels)


@pytest.fixture
def runs(tmp_path):
    labels = [mi_run(tmp_path / f"run{i}_raw.fif", seed=i) for i in (1, 2, 3)]
    (tmp_path / "mi.yaml").write_text(GRAPH)
    return tmp_path, labels


@pytest.mark.integration  # runs long: three runs through the real filters
def test_stream_split_scores_the_trials_after_calibration(runs):
    tmp, labels = runs
    files = [str(tmp / f"run{i}_raw.fif") for i in (1, 2, 3)]
    r = evaluate(str(tmp / "mi.yaml"), files, "stream", n_permutations=200)
    f = r["decoders"]["decoder"]
    assert f["undecided"] == 10 and f["n"] == 50  # the first 10 trials calibrate it
    assert [t["truth"] for t in f["trials"]] == sum(labels, [])
    assert f["accuracy"] >= 0.9 and f["kappa"] >= 0.8
    # decided when the epoch's last sample (2.5 s after the cue) has arrived, chunk by chunk
    assert 2.5 <= f["decision_time_s"]["min"] and f["decision_time_s"]["max"] <= 2.5 + 0.1 + 1e-9
    assert f["itr_bits_per_min"] > 10


@pytest.mark.integration  # runs long: every recording through the filters, then 8 fits
def test_cross_run_and_within_session_folds(runs):
    tmp, labels = runs
    files = [str(tmp / f"run{i}_raw.fif") for i in (1, 2, 3)]
    r = evaluate(str(tmp / "mi.yaml"), files, "cross-run", n_permutations=200)
    f = r["decoders"]["decoder"]
    assert f["n"] == 60 and len(f["fold_accuracy"]) == 3 and min(f["fold_accuracy"]) >= 0.85
    assert sorted({t["part"] for t in f["trials"] if t["fold"] == 1}) == [1]
    r = evaluate(str(tmp / "mi.yaml"), files, "within-session", n_folds=5, n_permutations=200)
    f = r["decoders"]["decoder"]
    assert f["n"] == 60 and len(f["fold_accuracy"]) == 5
    # MOABB's folds: stratified, shuffled with the seed, each trial tested once
    from sklearn.model_selection import StratifiedKFold
    y = np.array([lab == "T2" for lab in sum(labels, [])], int)
    expect = [sorted(te) for _, te in StratifiedKFold(5, shuffle=True, random_state=42).split(y, y)]
    got = [[i for i, t in enumerate(f["trials"]) if t["fold"] == k] for k in range(5)]
    order = sorted(range(60), key=lambda i: (f["trials"][i]["fold"], i))
    assert [len(g) for g in got] == [len(e) for e in expect]
    assert [f["trials"][i]["truth"] for i in order] == [sum(labels, [])[i] for e in expect for i in e]
    with pytest.raises(EvalError, match="two sessions or more"):
        evaluate(str(tmp / "mi.yaml"), files, "cross-session")


def test_bad_requests_are_named(runs):
    tmp, _ = runs
    with pytest.raises(EvalError, match="no decoder"):
        evaluate(str(tmp / "mi.yaml"), None, "stream", decoders=["nope"])
    with pytest.raises(EvalError, match="no file matches"):
        evaluate(str(tmp / "mi.yaml"), [str(tmp / "none*.fif")], "stream")
    with pytest.raises(EvalError, match="no trial was decided"):
        evaluate(str(tmp / "mi.yaml"), [str(tmp / "run1_raw.fif")], "stream", classes={"X": "left"})


@pytest.mark.integration
@pytest.mark.data
def test_the_seizure_graph_on_its_later_clips_through_the_cli(tmp_path, shared_data):
    ieeg = shared_data / "ieeg"
    need(ieeg / "Dog_1_ictal_segment_60.mat")
    later = [f"{ieeg}/Dog_1_interictal_segment_6[1-9].mat", f"{ieeg}/Dog_1_interictal_segment_[7-9]?.mat",
             f"{ieeg}/Dog_1_interictal_segment_1[0-2]?.mat", f"{ieeg}/Dog_1_ictal_segment_3[2-9].mat",
             f"{ieeg}/Dog_1_ictal_segment_[4-6]?.mat"]
    cmd = [sys.executable, "-m", "streamer", "eval", "graphs/seeg_seizure.yaml", "--data", *later,
           "--decoder", "detector", "--classes", "ictal=seizure,interictal=normal", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    f = json.loads((tmp_path / "eval.json").read_text())["decoders"]["detector"]
    # graphs/seeg_seizure.yaml's figures: 28/29 seizure clips, no false alarm in the 30
    # interictal clips judged after the 30 that fill the baseline
    assert f["confusion"] == [[28, 1], [0, 30]] and f["undecided"] == 30
    assert (tmp_path / "eval_detector.png").stat().st_size > 10_000
    assert "Cohen" in (tmp_path / "eval.html").read_text()


@pytest.mark.integration
@pytest.mark.data
@pytest.mark.timeout(900)  # four 64-channel runs through the filters, twice over; slow on a loaded machine
def test_left_right_graph_cross_run_as_tools_bci_cross_run(shared_data):
    for r in (3, 4, 7, 8):
        need(shared_data / "eeg" / f"S001R{r:02d}.edf")
    r = evaluate("graphs/eeg_left_right.yaml", None, "cross-run", decoders=["decoder"], n_permutations=500)
    f = r["decoders"]["decoder"]
    # tools.bci.cross_run's leave-one-run-out figure for CSP + LDA: 50/60
    assert (f["right"], f["n"]) == (50, 60)


@pytest.mark.integration
@pytest.mark.data
@pytest.mark.timeout(3600)  # MOABB's and our evaluation of two pipelines, two splits: minutes on a loaded machine
def test_moabb_and_streamer_eval_agree_within_two_points(shared_data):
    pytest.importorskip("moabb", reason="MOABB is the peer (the dev extra)")
    for r in (3, 4, 7, 8):
        need(shared_data / "eeg" / f"S001R{r:02d}.edf")
    from tools.bci.moabb_check import TOLERANCE, check

    rows = check(shared_data / "eeg")
    assert {(r["split"], r["pipeline"]) for r in rows} == {(s, p) for s in ("within-session", "cross-session")
                                                          for p in ("csp_lda", "ts_lr")}
    for r in rows:
        assert 0.5 < r["moabb"] <= 1 and abs(r["difference"]) <= TOLERANCE, r
