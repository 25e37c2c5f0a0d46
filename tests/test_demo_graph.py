"""The default demo graph runs from the README command and does its job."""

import pytest
import yaml

from streamer import recording
from tests.runtime_helpers import run, write_graph
from tests.shipped_graph import shipped_graph

pytestmark = pytest.mark.integration


def test_demo_classifies_shapes_and_commands_pass_the_gate(tmp_path):
    graph = shipped_graph("demo.yaml", TRIALS="20", SEED="7")
    graph["nodes"]["rec"] = {"type": "record", "path": str(tmp_path / "demo.rec")}
    graph["edges"] += ["snn.decision -> rec.decisions", "camera.markers -> rec.cues", "gate -> rec.commands"]
    g = write_graph(tmp_path, yaml.safe_dump(graph))
    code, figures, err = run(g, timeout=120)
    assert code == 0, err
    rec = recording.read(tmp_path / "demo.rec")
    cues = rec["cues"].data
    decisions = rec["decisions"].data
    assert len(cues) == 20 and len(decisions) >= 18
    # Each decision belongs to the latest cue before it.
    cue_times = rec["cues"].t_origin
    right = 0
    for d, t in zip(decisions, rec["decisions"].t_origin):
        shown = cues[int((cue_times <= t).sum()) - 1]["label"]
        right += d["label"] == shown
    assert right / len(decisions) >= 0.85, f"{right}/{len(decisions)}"
    # Dynamic Confidence ends most trials early.
    assert sum(d["steps"] for d in decisions) / len(decisions) < 25
    commands = rec["commands"].data
    assert len(commands) >= 10 and all(c["safety"] in ("passed",) or c["action"] == "stop" for c in commands)
    out = figures["nodes"]["out"]
    assert out["counters"]["sent"] == len(commands)
    # sensor to command, beyond the integration window (generous: a functional test on a
    # possibly busy machine; the figures come from the latency benchmark)
    assert out["latency_ms"]["p99"] < 200
    for edge in figures["edges"].values():
        assert edge["lost"] == 0
