"""actions.map against hand-worked decision sequences."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from nodes.actions.map import Map
from streamer.streams import decision
from streamer.testing import feed

LABELS = ["left", "right", "rest"]


def dec(label: str, conf: float = 0.9, t: float = 0.0, index: int | None = None):
    i = LABELS.index(label) if index is None else index
    return decision(i, label, [conf], conf, steps=5, t_origin=t)


def run_seq(node: Map, seq) -> list[tuple[int, str]]:
    """(position in the sequence, action) of each command."""
    node.start()
    fired = []
    for i, m in enumerate(seq):
        for c in feed(node, [m], finish=False).get("out", []):
            fired.append((i, c.data["action"]))
    return fired


def test_dwell_in_decisions():
    node = Map(labels=LABELS, dwell_decisions=3)
    seq = [dec(l, t=i * 0.01) for i, l in enumerate(
        ["left", "left", "left", "left", "right", "right", "left", "right", "right", "right"])]
    # left held 3x -> fires at 2; right x2 broken by left (no debounce) -> right x3 fires at 9.
    assert run_seq(node, seq) == [(2, "left"), (9, "right")]


def test_command_keeps_origin_and_label():
    node = Map(labels=LABELS, dwell_decisions=2)
    node.start()
    out = feed(node, [dec("right", 0.7, t=5.0), dec("right", 0.8, t=5.5)], finish=False)["out"]
    assert len(out) == 1
    c = out[0]
    assert c.t_origin == 5.5  # the newest decision that led to it
    assert c.data["action"] == "right" and c.data["label"] == "right"
    assert c.data["confidence"] == pytest.approx(0.8)
    assert node.counters["commands"] == 1


def test_hysteresis_switch_needs_more_than_keep():
    node = Map(labels=LABELS, min_confidence=0.5, switch_confidence=0.8, dwell_decisions=2)
    seq = [dec("left", 0.9, 0), dec("left", 0.9, 1),          # fires left at 1
           dec("right", 0.7, 2), dec("right", 0.7, 3),        # 0.7 < switch: ignored
           dec("right", 0.9, 4), dec("left", 0.6, 5),         # keep-level left breaks the dwell
           dec("right", 0.9, 6), dec("right", 0.85, 7)]       # fires right at 7
    assert run_seq(node, seq) == [(1, "left"), (7, "right")]
    assert node.counters["low_confidence"] == 2


def test_below_min_confidence_ignored():
    node = Map(labels=LABELS, min_confidence=0.6)
    assert run_seq(node, [dec("left", 0.59), dec("left", 0.2), dec("left", 0.61)]) == [(2, "left")]
    assert node.counters["low_confidence"] == 2


def test_debounce_tolerates_glitches():
    seq = [dec(l, t=i) for i, l in enumerate(["right", "right", "left", "right", "rest", "rest", "right"])]
    # debounce 1: the single left is tolerated, right reaches 3 at position 3.
    assert run_seq(Map(labels=LABELS, dwell_decisions=3, debounce_decisions=1), seq)[0] == (3, "right")
    # debounce 0: left restarts the dwell; rest x2 then right: nothing reaches 3.
    assert run_seq(Map(labels=LABELS, dwell_decisions=3), seq) == []


def test_dwell_in_time():
    node = Map(labels=LABELS, dwell_ms=100)
    seq = [dec("left", t=10.0), dec("left", t=10.05), dec("left", t=10.1), dec("left", t=10.2)]
    assert run_seq(node, seq) == [(2, "left")]


def test_refractory_delays_next_command():
    node = Map(labels=LABELS, refractory_ms=200)
    seq = [dec("left", t=1.0), dec("right", t=1.1), dec("right", t=1.15), dec("right", t=1.2),
           dec("left", t=1.25), dec("left", t=1.5)]
    # left at 0; right held through the refractory fires at 1.2 (position 3); left is then
    # refractory until 1.4 and fires at 1.5.
    assert run_seq(node, seq) == [(0, "left"), (3, "right"), (5, "left")]


def test_table_with_values_rest_and_index_lookup():
    table = {"left": {"action": "move", "value": -1}, "right": {"action": "move", "value": 1},
             "rest": None}
    node = Map(labels=table)
    node.start()
    out = feed(node, [dec("rest"), dec("left"), dec("rest"), dec("right"), dec("jump", index=7)],
               finish=False)["out"]
    assert [(c.data["action"], c.data["value"]) for c in out] == [("move", -1), ("move", 1)]
    assert node.counters["unmapped"] == 1
    # A list of labels: an empty decision label is looked up by class index.
    node = Map(labels=LABELS)
    node.start()
    out = feed(node, [decision(1, "", [0.1, 0.9], 0.9, 3)], finish=False)["out"]
    assert out[0].data["action"] == "right"


def test_bad_params_say_what_is_wrong():
    with pytest.raises(ValidationError, match="switch_confidence"):
        Map(labels=LABELS, min_confidence=0.8, switch_confidence=0.5)
    with pytest.raises(ValidationError, match="labels"):
        Map(labels=[])
    with pytest.raises(ValidationError):
        Map(labels=LABELS, dwell_decisions=0)
