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
