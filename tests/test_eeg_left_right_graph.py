"""graphs/eeg_left_right.yaml: imagined left vs right fist on real EEGMMIDB runs, the
classical CSP + LDA decoder and the spiking network side by side in one replay."""
import nir
import numpy as np
import pytest

import nodes.snn as snn
from tests.conftest import need
from tests.recorded_graph import run_recorded
from tests.runtime_helpers import ROOT
from tools.train.eegmmidb import load_eegmmidb

pytestmark = pytest.mark.integration

MODEL = ROOT / "models" / "eegmmidb_left_right.nir"
RUNS = ("S001R03.edf", "S001R07.edf", "S001R04.edf", "S001R08.edf")


@pytest.fixture(scope="module")
def replayed(shared_data, tmp_path_factory):
    for run in RUNS:
        need(shared_data / "eeg" / run)
    tmp = tmp_path_factory.mktemp("left_right")
    return run_recorded("eeg_left_right.yaml", tmp, shared_data,
                        ["snn.decision -> snn", "decoder -> classical", "eeg.markers -> cues"], timeout=120)


def test_both_paths_decide_every_imagined_trial(replayed):
    rec, figures, _ = replayed
    cues = [c["label"] for c in rec["cues"].data if c["label"] in ("T1", "T2")]
    assert len(cues) == 60  # 15 trials in each of the 4 runs
    imagined = cues[30:]
    classical = rec["classical"].data
    # CSP + LDA calibrates on the 30 executed trials, then decides each imagined one.
    assert [d["truth"] for d in classical] == imagined
    c = figures["nodes"]["decoder"]["counters"]
    assert (c["calibration"], c["right"] + c["wrong"]) == (30, 30) and c["right"] >= 22
    # The SNN decides every cue over 0.5-4 s (140 steps of 25 ms), rest cues start no trial.
    decisions = rec["snn"].data
    assert len(decisions) == 60 and {d["steps"] for d in decisions} == {140}
    assert figures["nodes"]["snn"]["counters"].get("trials_cut", 0) == 0
    score = figures["nodes"]["score"]["counters"]
    names = {"T1": "left", "T2": "right"}
    right = sum(d["label"] == names[c] for d, c in zip(decisions[30:], imagined))
    assert (score["skipped"], score["right"], score["wrong"]) == (30, right, 30 - right)


def test_snn_online_equals_the_trained_model_offline(replayed, shared_data):
    """The graph's nodes give the network the spikes it was trained on: its decisions on
    the held-out runs are those of the same model on tools.train's held-out data, and its
    accuracy is the held-out accuracy written in the model file."""
    rec, figures, _ = replayed
    meta = nir.read(MODEL).metadata
    data = load_eegmmidb(shared_data / "eeg", [int(r) for r in meta["train_runs"]],
                         [int(r) for r in meta["test_runs"]])
    net = snn.load(str(MODEL), dt=0.025, convention="nir")
    policy = snn.DynamicConfidence.full_window(140)
    offline = [net.classify(x, early_exit=policy).index for x in data.x_test]
    online = [d["index"] for d in rec["snn"].data[30:]]
    assert online == offline
    right = figures["nodes"]["score"]["counters"]["right"]
    assert right / 30 == pytest.approx(float(meta["held_out_accuracy"]))
    assert np.mean(np.array(offline) == data.y_test) == pytest.approx(right / 30)


@pytest.mark.lava
def test_the_same_network_on_loihi_decides_alike(replayed, shared_data, tmp_path):
    """The spiking path moved onto Lava's Loihi 2 simulator (fixed point, in the Lava
    interpreter) by two --set: it takes the same trials and gives the same decisions."""
    from tools.bench.coprocessors import lava_python

    if not lava_python().exists():
        pytest.skip(f"no Lava interpreter at {lava_python()} (make it with tools/envs/make_lava_env.sh)")
    rec, figures, _ = run_recorded("eeg_left_right.yaml", tmp_path, shared_data, ["snn.decision -> snn"],
                                   "--set", "snn.type=coprocessor.loihi", "--set", f"snn.python={lava_python()}",
                                   timeout=240)
    chip = [d["index"] for d in rec["snn"].data]
    engine = [d["index"] for d in replayed[0]["snn"].data]
    assert len(chip) == 60 and figures["nodes"]["snn"]["counters"]["backend_sim"] == 1
    assert sum(a == b for a, b in zip(chip, engine)) >= 57  # fixed-point weights: near-equal
    assert figures["nodes"]["score"]["counters"]["right"] >= 19
