"""graphs/seeg_seizure.yaml through the CLI: Dog_1 ECoG clips replayed as one stream, a
streaming seizure detector, stimulation commands through the safety gate."""
import json

import numpy as np
import pytest

from tests.conftest import need
from tests.recorded_graph import run_recorded
from tools.bci.seizure import Detector, clip_features, load_clips

pytestmark = pytest.mark.integration

N_CALIBRATION = 60


def seizure_graph(tmp_path, shared_data, *sets, stim: dict | None = None):
    need(shared_data / "ieeg" / "Dog_1_ictal_segment_1.mat")

    def change(graph):
        assert graph["nodes"]["detector"]["n_calibration"] == N_CALIBRATION
        graph["nodes"]["refused"]["path"] = str(tmp_path / "refused.jsonl")
        if stim is not None:
            graph["nodes"]["stim"] = stim
    return run_recorded("seeg_seizure.yaml", tmp_path, shared_data,
                        ["detector -> decisions", "clips.markers -> clips", "gate -> commands"], *sets,
                        change=change)


def offline_scores(root, files):
    """The baseline's detector, calibrated on the same interictal draw (seed 0), on the
    clips the graph tested (named by the file markers)."""
    clips, fs = {}, None
    for kind in ("ictal", "interictal"):
        data, _, fs = load_clips(root, kind)
        clips.update({f"Dog_1_{kind}_segment_{i + 1}.mat": c for i, c in enumerate(data)})
    order = np.random.default_rng(0).permutation(120)
    calibration = [clips[f"Dog_1_interictal_segment_{i + 1}.mat"] for i in order[:N_CALIBRATION]]
    det = Detector(np.stack([clip_features(c, fs) for c in calibration]), 0.99)
    return det.scores(np.stack([clip_features(clips[f], fs) for f in files])), det.threshold


def test_seizures_detected_few_false_alarms_and_stimulation_passes_the_gate(tmp_path, shared_data):
    rec, figures, _ = seizure_graph(tmp_path, shared_data)
    clips = rec["clips"].data
    decisions = rec["decisions"].data
    assert len(clips) == 180 and [c["label"] for c in clips[:120]] == ["interictal"] * 120
    # every clip after the 60 calibration clips gets one decision, in order, on that clip
    tested = clips[N_CALIBRATION:]
    assert [d["truth"] for d in decisions] == [c["label"] for c in tested]
    assert [d["first_sample"] for d in decisions] == [c["sample"] for c in tested]
    seizure = np.array([d["label"] == "seizure" for d in decisions])
    ictal = np.array([c["label"] == "ictal" for c in tested])
    # The baseline gets 59/60 and 2/60: allow a little, far from chance either way.
    sensitivity, false_alarms = seizure[ictal].mean(), int(seizure[~ictal].sum())
    assert sensitivity >= 0.9 and false_alarms <= 5, (sensitivity, false_alarms)
    c = figures["nodes"]["detector"]["counters"]
    assert (c["detected"], c["false_alarms"]) == (int(seizure[ictal].sum()), false_alarms)
    # the streaming detector is the offline one, clip for clip
    scores, threshold = offline_scores(shared_data / "ieeg", [c["file"] for c in tested])
    np.testing.assert_allclose([d["score"] for d in decisions], scores, atol=1e-4)
    assert abs(decisions[0]["threshold"] - threshold) < 1e-4
    # one stimulation per seizure window, each passed by the gate within its bounds
    stims = [cmd for cmd in rec["commands"].data if cmd["action"] == "stimulate"]
    assert len(stims) == int(seizure.sum())
    assert all(cmd["safety"] == "passed" and 0.0 <= cmd["value"] <= 2.0 for cmd in stims)
    assert figures["nodes"]["gate"]["counters"]["passed"] == len(stims)
    assert figures["nodes"]["stimulator"]["counters"]["sent"] >= len(stims)


def test_a_stimulation_above_its_bound_is_blocked_and_logged_with_the_reason(tmp_path, shared_data):
    # A stimulator whose commands the graph check cannot see (`streamer check` refuses the
    # map asking for 5 mA): the gate blocks each one at run time.
    rec, figures, err = seizure_graph(tmp_path, shared_data,
                                      stim={"type": "tests.runtime_nodes:Stimulate", "value": 5})
    n_seizure = sum(d["label"] == "seizure" for d in rec["decisions"].data)
    assert n_seizure >= 50
    # nothing but the gate's safe 'stop' reaches the stimulator
    assert {cmd["action"] for cmd in rec["commands"].data} == {"stop"}
    assert figures["nodes"]["gate"]["counters"]["blocked_out_of_bounds"] == n_seizure
    assert "gate: blocked 'stimulate' value=5: out_of_bounds (value 5 outside [0.0, 2.0])" in err
    refused = [json.loads(line) for line in (tmp_path / "refused.jsonl").read_text().splitlines()]
    assert len(refused) == n_seizure
    assert all(r["action"] == "stimulate" and r["value"] == 5 and r["safety"] == "blocked:out_of_bounds"
               and r["reason"] == "value 5 outside [0.0, 2.0]" for r in refused)
