"""The parts of a session driven directly (no process): protocol checks, cue schedules,
cue alignment, the fit on a recording and the decoder node that loads it."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from nodes.bci.cues.align import Align
from nodes.bci.cues.feedback import Feedback
from nodes.bci.cues.motor_imagery import MotorImagery
from nodes.bci.cues.schedule import balanced_order
from nodes.bci.cues.ssvep import Ssvep
from nodes.bci.decoder import Decoder
from nodes.bci.decoder_file import DecoderFileError, load_decoder
from nodes.bci.epoch_decoders import fit_ts_lr, p_class1
from streamer.node import EndOfStream, Rejected, Unavailable
from streamer.recording import Writer
from streamer.streams import decision, frames, marker, samples
from tools.bci.fit_decoder import FitError, fit_decoder
from tools.session.protocol import ProtocolError, load_protocol


# -- protocol -----------------------------------------------------------------------------

def _protocol(tmp_path, text: str):
    (tmp_path / "g.yaml").write_text("name: g\nnodes: {}\nedges: []\n")
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return load_protocol(p)


def test_protocol_numbers_runs_and_expands_repeats(tmp_path):
    p = _protocol(tmp_path, "task: mi\nphases:\n  - {name: calibration, graph: g.yaml}\n"
                  "  - {name: fit, fit: {recording: calibration, classes: [a, b]}}\n"
                  "  - {name: online, graph: g.yaml, repeat: 2}\n")
    assert [(ph.name, ph.run) for ph in p.phases] == [("calibration", 1), ("fit", 0), ("online-1", 2),
                                                      ("online-2", 3)]


@pytest.mark.parametrize("text, said", [
    ("phases:\n  - {name: a, graph: missing.yaml}\n", "p.yaml:2: phase 'a': graph"),
    ("phases:\n  - {name: a, graph: g.yaml}\n  - {name: f, fit: {recording: b, classes: [x, y]}}\n",
     "fit.recording must name an earlier graph phase"),
    ("phases:\n  - {name: a, graph: g.yaml, when: later}\n", "p.yaml:2: phase 'a': unknown key 'when'"),
    ("task: motor-imagery\nphases:\n  - {name: a, graph: g.yaml}\n", "p.yaml:1: task 'motor-imagery'"),
    ("formats: [mp4]\nphases:\n  - {name: a, graph: g.yaml}\n", "formats: 'mp4' is not one of"),
    ("phases:\n  - {name: a, graph: g.yaml}\n  - {name: a, graph: g.yaml}\n", "used twice"),
])
def test_protocol_errors_name_the_line_and_the_fix(tmp_path, text, said):
    with pytest.raises(ProtocolError, match=said.replace("(", r"\(")):
        _protocol(tmp_path, text)


# -- cue paradigms ----------------------------------------------------------------------------

def test_balanced_order_has_every_class_equally_and_no_triple():
    rng = np.random.default_rng(3)
    for _ in range(20):
        order = balanced_order(["left", "right"], 10, rng)
        assert order.count("left") == order.count("right") == 10
        assert all(not (order[i] == order[i - 1] == order[i - 2]) for i in range(2, len(order)))


def _play(node, limit_s: float = 20.0) -> list:
    node.start()
    out, t0 = [], time.monotonic()
    while time.monotonic() - t0 < limit_s:
        try:
            got = node.produce()
        except EndOfStream:
            return out
        out += got or []
    raise AssertionError("the paradigm did not end")


def test_motor_imagery_cues_follow_the_paradigm_timing():
    node = MotorImagery(trials_per_class=2, fixation_s=0.05, imagery_s=0.1, rest_s=0.05, jitter_s=0.05,
                        start_s=0.0, seed=1)
    msgs = _play(node)
    labels = [m.data["label"] for m in msgs]
    assert labels[-1] == "end" and labels.count("fixation") == 4 and labels.count("rest") == 4
    assert sorted(x for x in labels if x in ("left", "right")) == ["left", "left", "right", "right"]
    t = {(m.data.get("trial"), m.data["label"]): m.data["time_s"] for m in msgs}
    for k in range(1, 5):
        cue = next(v for (tr, lab), v in t.items() if tr == k and lab in ("left", "right"))
        # Times are kept from the run's start (no drift): one shown late shortens the next
        # gap; a loaded machine sleeps late, hence the generous upper bound.
        assert -0.01 < cue - t[(k, "fixation")] - 0.05 < 0.1
        assert -0.01 < t[(k, "rest")] - cue - 0.1 < 0.1
    for m in msgs:   # the time shown is the message's origin, on the host clock
        assert m.t_origin == m.data["time_s"] and m.data["stimulus"]["show"]


def test_ssvep_marks_each_target_and_its_frequency():
    msgs = _play(Ssvep(freqs_hz=[8, 12], trials_per_target=2, stim_s=0.05, rest_s=0.0, jitter_s=0.0,
                       start_s=0.0, seed=0))
    trials = [m.data for m in msgs if m.data["label"] == "ssvep"]
    assert sorted(d["value"] for d in trials) == [0, 0, 1, 1]
    assert all(d["freq_hz"] == [8, 12][d["value"]] and d["stimulus"]["freqs_hz"] == [8, 12] for d in trials)


def test_paradigms_refuse_labels_and_frequencies_they_cannot_show():
    with pytest.raises(ValueError, match="rest"):
        MotorImagery(classes=["left", "rest"])
    with pytest.raises(ValueError, match="30"):
        Ssvep(freqs_hz=[40])


def test_align_places_host_times_on_the_samples_clock():
    node = Align()
    node.start()
    sfreq, offset = 250.0, 1000.0          # device clock = host clock - 1000 s
    m = marker("left", 0, time_s=1003.0, t_origin=1003.0)
    assert node.receive("in", m) == []     # no samples yet: held
    out = []
    for k in range(200):                   # 20 ms chunks; every other one arrives 5 ms late
        n0 = k * 5
        t_dev = n0 / sfreq
        late = 0.005 if k % 2 else 0.0
        chunk = samples(np.ones((2, 5), np.float32), sfreq=sfreq, ch_names=["a", "b"], t_first_s=t_dev,
                        first_sample=n0, t_origin=offset + t_dev + 4 / sfreq + late)
        out += node.receive("clock", chunk)
    assert len(out) == 1
    assert out[0].data["sample"] == 750 and out[0].data["time_s"] == pytest.approx(3.0)
    assert out[0].data["host_time_s"] == 1003.0 and out[0].data["label"] == "left"


def test_feedback_bar_follows_the_decision():
    node = Feedback()
    node.start()
    m = node.receive("in", decision(1, "right", [0.2, 0.8], 0.8, 1, correct=True, last_sample=99))
    assert m.data["label"] == "feedback" and m.data["value"] == "right" and m.data["sample"] == 99
    assert m.data["stimulus"]["position"] == pytest.approx(0.6) and m.data["stimulus"]["correct"] is True


# -- fit and decoder ----------------------------------------------------------------------------

CHANNELS = ["C3", "Cz", "C4", "Pz"]
SFREQ = 100.0


def _calibration(path, n_trials: int = 24, seed: int = 0) -> list[str]:
    """A native recording of 4 channels where 'left' trials have a strong 12 Hz rhythm on
    C4 and 'right' ones on C3 (cues as cues.align gives them: with `sample`)."""
    rng = np.random.default_rng(seed)
    trial_n, gap_n = int(2.5 * SFREQ), int(1.0 * SFREQ)
    total = n_trials * (trial_n + gap_n) + 200
    x = rng.normal(0, 1.0, (4, total))
    labels = list(rng.permutation(["left", "right"] * (n_trials // 2)))
    cues, t = [], np.arange(trial_n) / SFREQ
    for k, lab in enumerate(labels):
        s = 100 + k * (trial_n + gap_n)
        ch = 2 if lab == "left" else 0
        x[ch, s:s + trial_n] += 3 * np.sin(2 * np.pi * 12 * t + rng.uniform(0, 6))
        cues.append(marker(lab, 0, time_s=s / SFREQ, sample=s, t_origin=float(s)))
    w = Writer(path)
    chunk = 25
    for i in range(0, total, chunk):
        w.write("eeg", samples(x[:, i:i + chunk].astype(np.float32), sfreq=SFREQ, ch_names=CHANNELS,
                               first_sample=i, t_first_s=i / SFREQ, t_origin=float(i)), float(i))
    for m in cues:
        w.write("cues", m, m.t_origin)
    w.close()
    return labels


# pyriemann and scikit-learn take 10-20 s to import on a loaded machine: out of the fast lane
@pytest.mark.parametrize("kind", ["csp_lda", pytest.param("ts_lr", marks=pytest.mark.integration)])
def test_fit_on_a_recording_saves_a_decoder_the_node_runs(tmp_path, kind):
    if kind == "ts_lr":
        pytest.importorskip("pyriemann")
    rec = tmp_path / "cal.rec"
    _calibration(rec)
    out = tmp_path / "decoder.json"
    model = fit_decoder(rec, out, kind=kind, classes=["left", "right"], tmin_s=0.5, tmax_s=2.0,
                        filter={"kind": "bandpass", "l_freq_hz": 8, "h_freq_hz": 30, "order": 4},
                        reref=None, metadata={"subject": "01"})
    saved = json.loads(out.read_text())
    assert saved["channels"] == CHANNELS and saved["sfreq"] == SFREQ and saved["kind"] == kind
    assert saved["training"]["trials"] == {"left": 12, "right": 12} and saved["training"]["subject"] == "01"
    assert len(saved["training"]["sha256"]) == 64
    cv = model["training"]["cross_validation"]
    assert cv["accuracy"] >= 0.9 and cv["folds"] == 5 and cv["chance"] == 0.5
    # Online: the node decides fresh trials of the same kind from its file alone.
    node = Decoder(model=str(out))
    node.start()
    fresh = tmp_path / "fresh.rec"
    _calibration(fresh, 10, seed=7)
    from tools.bci.fit_decoder import recorded_epochs
    data = recorded_epochs(fresh, ["left", "right"], tmin_s=0.5, tmax_s=2.0,
                           filter=saved["preprocessing"]["filter"], reref=None)
    right = 0
    for x, y in zip(data["x"], data["y"]):
        d = node.receive("in", frames(x[None].astype(np.float32), bin_us=1e4, ch_names=CHANNELS,
                                      label=["left", "right"][y], first_sample=0)).data
        right += d["correct"]
        assert d["model"] == kind and abs(sum(d["probabilities"]) - 1) < 1e-9
    assert right >= 9
    with pytest.raises(Rejected, match="channels"):
        node.receive("in", frames(np.ones((1, 4, 150), np.float32), bin_us=1e4, ch_names=["a", "b", "c", "d"]))
    with pytest.raises(Rejected, match="50 Hz"):
        node.receive("in", frames(np.ones((1, 4, 150), np.float32), bin_us=2e4, ch_names=CHANNELS))


@pytest.mark.integration  # imports pyriemann and scikit-learn (10-20 s on a loaded machine)
def test_tangent_space_decoder_agrees_with_pyriemanns_pipeline():
    pytest.importorskip("pyriemann")
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5, 200))
    x[:15, 0] *= 2
    y = np.r_[np.zeros(15, int), np.ones(15, int)]
    params = json.loads(json.dumps(fit_ts_lr(x, y), default=lambda a: a.tolist()))  # through JSON, as saved
    pipe = make_pipeline(Covariances(estimator="oas"), TangentSpace(metric="riemann"),
                         LogisticRegression(C=1.0, max_iter=1000)).fit(x, y)
    test = rng.normal(size=(10, 5, 200))
    np.testing.assert_allclose(p_class1("ts_lr", params, test), pipe.predict_proba(test)[:, 1], rtol=1e-6)


def test_fit_refuses_a_recording_without_enough_trials(tmp_path):
    rec = tmp_path / "cal.rec"
    _calibration(rec, 2)
    with pytest.raises(FitError, match="2 trials of each class"):
        fit_decoder(rec, tmp_path / "d.json", classes=["left", "right"], tmin_s=0.5, tmax_s=2.0, reref=None)


def test_decoder_file_errors_say_what_to_do(tmp_path):
    with pytest.raises(DecoderFileError, match="run the session's fit phase"):
        load_decoder(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "streamer-decoder", "version": 1, "kind": "csp_lda", "classes": ["a", "b"],
                               "channels": ["C3"], "sfreq": -1, "params": {}}))
    with pytest.raises(DecoderFileError, match="'sfreq' must be a positive"):
        load_decoder(bad)
    assert Decoder.check(Decoder.Params(model=str(bad)))[0][0] == "model"
    with pytest.raises(Unavailable, match="sfreq"):
        Decoder(model=str(bad)).start()


def test_folds_are_stratified_and_cover_every_trial():
    from tools.bci.fit_decoder import folds_of
    y = np.array([0] * 16 + [1] * 14)
    folds = folds_of(y, 5, 0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(30))
    assert all(abs(np.mean(y[f]) - 14 / 30) < 0.2 and len(f) == 6 for f in folds)
