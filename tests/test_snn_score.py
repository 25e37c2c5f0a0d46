"""snn.score driven directly: decisions paired with label markers in order, whatever the
arrival order, and the figures that come out of it."""
from __future__ import annotations

import json

import pytest

from nodes.snn.score import Score
from streamer.streams import decision, marker
from streamer.testing import feed


def _d(label: str, steps: int, index: int | None = None, t_origin: float = 0.0):
    return ("decision", decision(index if index is not None else int(label), label, [1.0], 0.9, steps,
                                 t_origin=t_origin))


def _m(label: str, sample: str):
    return ("labels", marker(label, int(label) if label.isdigit() else None, sample=sample))


def test_pairs_in_order_whatever_arrives_first(tmp_path):
    path = tmp_path / "out" / "score.json"
    node = Score(summary_path=str(path), classes=[str(i) for i in range(10)])
    node.start()
    # two decisions overtake their markers, a trigger marker is not a sample
    msgs = [_d("3", 10), _d("1", 30), _m("3", "a.bin"), ("labels", marker("trigger1", 1)),
            _m("7", "b.bin"), _m("2", "c.bin"), _d("2", 20), _m("5", "d.bin")]
    feed(node, msgs)
    node.stop()
    c = node.counters
    assert (c["samples"], c["decisions"], c["right"], c["wrong"], c["ignored_markers"]) == (4, 3, 2, 1, 1)
    assert c["undecided"] == 1 and "unlabelled" not in c
    assert c["accuracy_pct"] == 66.7 and c["mean_steps"] == 20.0
    got = json.loads(path.read_text())
    assert got["accuracy"] == pytest.approx(2 / 3) and got["max_steps"] == 30
    assert got["confusion"] == {"2": {"2": 1}, "3": {"3": 1}, "7": {"1": 1}}
    assert got["wrong_samples"] == [{"label": "7", "decision": "1", "confidence": 0.9, "steps": 30,
                                     "sample": "b.bin"}]
    assert (got["undecided"], got["unlabelled"]) == (1, 0)
    assert got["latency_ms"]["p50"] > 0  # t_origin 0: decisions are as old as the clock


def test_match_by_index_and_decisions_without_markers():
    node = Score(match="index")
    node.start()
    feed(node, [_m("4", "x"), _d("four", 5, index=4), _m("9", "y"), _d("nine", 5, index=8), _d("one", 5, index=1)])
    assert (node.counters["right"], node.counters["wrong"], node.counters["unlabelled"]) == (1, 1, 1)
    assert node.summary()["accuracy"] == 0.5
    node.stop()  # no summary_path: nothing written, no error


def test_decisions_compared_with_a_reference_backend_in_order():
    node = Score()
    node.start()
    ref = lambda label, steps: ("reference", _d(label, steps)[1])  # noqa: E731
    # The reference runs ahead of the chip for two samples, then falls behind.
    feed(node, [ref("4", 12), ref("1", 40), _d("4", 13), _d("7", 35), _d("9", 50), ref("9", 48), _m("4", "a")])
    c = node.counters
    assert (c["agree"], c["disagree"], c["agreement_pct"]) == (2, 1, 66.7)
    got = node.summary()["agreement"]
    assert got["compared"] == 3 and got["rate"] == pytest.approx(2 / 3)
    assert got["disagreements"] == [{"n": 2, "decision": "7", "reference": "1", "steps": 35,
                                     "reference_steps": 40}]
    # Without a reference there is nothing to report.
    plain = Score()
    plain.start()
    feed(plain, [_d("4", 13), _m("4", "a")])
    assert plain.summary()["agreement"] is None and "agree" not in plain.counters


def test_calibration_trials_skipped_and_cue_names_mapped():
    """EEG cues T1/T2 stand for the decisions left/right; the first two trials trained the
    decoder and are paired but not scored."""
    node = Score(classes=["T1", "T2"], names={"T1": "left", "T2": "right"}, skip=2)
    node.start()
    cues = ["T1", "T2", "T0", "T2", "T1", "T1"]
    said = ["right", "right", "left", "left", "left"]
    feed(node, [("labels", marker(c)) for c in cues] + [_d(s, 160, index=int(s == "right")) for s in said])
    c = node.counters
    assert (c["samples"], c["skipped"], c["right"], c["wrong"], c["ignored_markers"]) == (5, 2, 2, 1, 1)
    got = node.summary()
    assert got["accuracy"] == pytest.approx(2 / 3) and got["skipped"] == 2
    assert got["confusion"] == {"T1": {"left": 2}, "T2": {"left": 1}}
