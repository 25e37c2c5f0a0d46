"""graphs/eeg_replay.yaml through the CLI: real EEGMMIDB runs replayed as fast as possible,
a decoder calibrated on the first run decides every trial of the second, above chance."""
import pytest
from scipy.stats import binom

from tests.conftest import need
from tests.recorded_graph import run_recorded

pytestmark = pytest.mark.integration

N_CALIBRATION = 15


def test_every_trial_after_calibration_is_decided_above_chance(tmp_path, shared_data):
    need(shared_data / "eeg" / "S001R05.edf")
    need(shared_data / "eeg" / "S001R06.edf")

    def check(graph):
        assert graph["nodes"]["decoder"]["n_calibration"] == N_CALIBRATION
    rec, figures, _ = run_recorded("eeg_replay.yaml", tmp_path, shared_data,
                                   ["decoder -> decisions", "eeg.markers -> cues"], change=check)
    cues = [c for c in rec["cues"].data if c["label"] in ("T1", "T2")]
    decisions = rec["decisions"].data
    assert len(cues) == 30  # 15 trials in each run
    tested = cues[N_CALIBRATION:]
    # One decision per trial after calibration, in order, on the epoch that starts 0.5 s
    # (80 samples) after its cue.
    assert len(decisions) == len(tested)
    assert [d["truth"] for d in decisions] == [c["label"] for c in tested]
    assert [d["first_sample"] for d in decisions] == [c["sample"] + 80 for c in tested]
    names = {"T1": "fists", "T2": "feet"}
    right = sum(d["label"] == names[c["label"]] for d, c in zip(decisions, tested))
    counters = figures["nodes"]["decoder"]["counters"]
    assert (counters["right"], counters["wrong"]) == (right, len(tested) - right)
    # Chance is the majority class of the tested trials (what a constant answer gets); a
    # one-sided binomial test against it (8/15 here): 12 of 15 right are needed for p < 0.05.
    chance = max(sum(c["label"] == "T1" for c in tested), sum(c["label"] == "T2" for c in tested)) / len(tested)
    p_value = binom.sf(right - 1, len(tested), chance)
    assert p_value < 0.05, f"{right}/{len(tested)} right, p = {p_value:.3f} against chance {chance:.2f}"
