"""graphs/seeg_seizure.yaml through the CLI: Dog_1 ECoG clips replayed as one stream in
recording order, the streaming seizure detector against its running baseline, one
stimulation per alarm through the safety gate."""
import json

import numpy as np
import pytest

from tests.conftest import need
from tests.recorded_graph import run_recorded
from tools.bci.seizure import Recording, load_clips, replay

pytestmark = pytest.mark.integration

BASELINE = 30


def seizure_graph(tmp_path, shared_data, *sets, stim: dict | None = None):
    need(shared_data / "ieeg" / "Dog_1_ictal_segment_1.mat")

    def change(graph):
        assert graph["nodes"]["detector"]["baseline_windows"] == BASELINE
        graph["nodes"]["refused"]["path"] = str(tmp_path / "refused.jsonl")
        if stim is not None:
            graph["nodes"]["stim"] = stim
    return run_recorded("seeg_seizure.yaml", tmp_path, shared_data,
                        ["detector -> decisions", "detector.alarm -> alarms", "clips.markers -> clips",
                         "gate -> commands"], *sets, change=change)


def clip_numbers(markers, kind):
    return [int(m["file"].rsplit("_", 1)[1].split(".")[0]) for m in markers if m["label"] == kind]


def test_all_clips_in_order_scored_as_offline_with_one_stimulation_per_alarm(tmp_path, shared_data):
    rec, figures, _ = seizure_graph(tmp_path, shared_data)
    clips, decisions = rec["clips"].data, rec["decisions"].data
    assert clip_numbers(clips, "interictal") == list(range(1, 121))  # recording order, not shuffled
    assert clip_numbers(clips, "ictal") == list(range(1, 61)) and len(clips) == 180
    # the first 30 interictal clips fill the baseline; every later clip gets one decision
    tested = clips[BASELINE:]
    assert [d["truth"] for d in decisions] == [c["label"] for c in tested]
    assert [d["first_sample"] for d in decisions] == [c["sample"] for c in tested]
    # the streaming detector is the offline one (tools.bci.seizure), clip for clip
    ictal, latency, fs = load_clips(shared_data / "ieeg", "ictal")
    inter, _, _ = load_clips(shared_data / "ieeg", "interictal")
    offline = replay(Recording.of(inter, ictal, latency, fs), decisions[0]["threshold"])
    np.testing.assert_allclose([d["score"] for d in decisions], offline["score"], atol=1e-4)
    assert [d["label"] == "seizure" for d in decisions] == offline["seizure"].tolist()
    assert [d["alarm"] for d in decisions] == offline["alarm"].tolist()
    c = figures["nodes"]["detector"]["counters"]
    seizure = offline["seizure"]
    assert c["detected"] == int(seizure[offline["ictal"]].sum()) >= 57
    assert c["false_alarms"] == int(seizure[~offline["ictal"]].sum()) <= 9
    # alarms: seizure windows at least 30 s apart, one stimulation each through the gate
    alarms = rec["alarms"].data
    assert len(alarms) == c["alarms"] == int(offline["alarm"].sum()) >= 2
    assert all(d["label"] == "seizure" and d["alarm"] for d in alarms)
    assert np.all(np.diff([a["first_sample"] for a in alarms]) >= 30 * fs - 1)
    stims = [cmd for cmd in rec["commands"].data if cmd["action"] == "stimulate"]
    gate = figures["nodes"]["gate"]["counters"]
    # SPEED=0 on a loaded machine can age an alarm past the gate's staleness bound: blocked then
    assert len(stims) + gate.get("blocked_stale", 0) == len(alarms)
    assert all(cmd["safety"] == "passed" and 0.0 <= cmd["value"] <= 2.0 for cmd in stims)


def test_later_clips_alone_as_a_new_recording(tmp_path, shared_data):
    # The chronological split's test part, replayed the way the header says.
    ieeg = shared_data / "ieeg"
    later = ([str(ieeg / f"Dog_1_interictal_segment_{i}.mat") for i in range(61, 121)]
             + [str(ieeg / f"Dog_1_ictal_segment_{i}.mat") for i in range(32, 61)])
    rec, figures, _ = seizure_graph(tmp_path, shared_data, "--set", f"clips.path={json.dumps(later)}")
    assert clip_numbers(rec["clips"].data, "interictal")[0] == 61
    c = figures["nodes"]["detector"]["counters"]
    assert c["calibration"] == BASELINE and c["decisions"] == 59
    assert c["detected"] >= 27 and c["false_alarms"] <= 3, c  # 28/29 and 0/30 measured
    assert c["alarms"] >= 1


def test_a_stimulation_above_its_bound_is_blocked_and_logged_with_the_reason(tmp_path, shared_data):
    # A stimulator whose commands the graph check cannot see (`streamer check` refuses the
    # map asking for 5 mA): the gate blocks each one at run time.
    rec, figures, err = seizure_graph(tmp_path, shared_data,
                                      stim={"type": "tests.runtime_nodes:Stimulate", "value": 5})
    n_alarms = len(rec["alarms"].data)
    assert n_alarms >= 2
    # nothing but the gate's safe 'stop' reaches the stimulator
    assert {cmd["action"] for cmd in rec["commands"].data} == {"stop"}
    gate = figures["nodes"]["gate"]["counters"]
    assert gate["blocked_out_of_bounds"] + gate.get("blocked_stale", 0) == n_alarms
    assert gate["blocked_out_of_bounds"] >= 1
    assert "gate: blocked 'stimulate' value=5: out_of_bounds (value 5 outside [0.0, 2.0])" in err
    refused = [json.loads(line) for line in (tmp_path / "refused.jsonl").read_text().splitlines()]
    assert len(refused) == n_alarms
    assert all(r["action"] == "stimulate" for r in refused)
    assert sum(r["value"] == 5 and r["safety"] == "blocked:out_of_bounds"
               and r["reason"] == "value 5 outside [0.0, 2.0]" for r in refused) == gate["blocked_out_of_bounds"]
