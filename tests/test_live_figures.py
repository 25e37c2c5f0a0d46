"""Live figures of a node restarted mid-run: counts add up over its incarnations, figures
such as percentages are the latest ones, not a sum."""
from streamer.live import NodeFigures


def test_counts_add_up_over_restarts_and_figures_do_not():
    f = NodeFigures("score", "snn.score", "sink")
    f.update({"state": "running", "counters": {"right": 8, "wrong": 2, "accuracy_pct": 80.0}})
    f.new_incarnation()
    assert f.counters() == {"right": 8, "wrong": 2, "accuracy_pct": 80.0}  # before the new one reports
    f.update({"state": "running", "counters": {"right": 1, "wrong": 3, "accuracy_pct": 25.0, "mean_steps": 40.5}})
    assert f.counters() == {"right": 9, "wrong": 5, "accuracy_pct": 25.0, "mean_steps": 40.5}
    f.new_incarnation()
    f.update({"state": "running", "counters": {"right": 2}})
    assert f.counters() == {"right": 11, "wrong": 5, "accuracy_pct": 25.0, "mean_steps": 40.5}
