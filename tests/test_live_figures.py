"""Live figures of a node restarted mid-run: counts add up over its incarnations, figures
such as percentages are the latest ones, not a sum."""
from streamer.figures import NodeFigures


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


def test_details_leave_the_worker_once():
    """A node's details (backend, reports) are set by start() and sent with the first stats
    only, not four times a second."""
    import threading

    import zmq

    from streamer.worker import NodeRunner

    ctx = zmq.Context()
    spec = {"name": "c", "type": "util.counter", "params": {"count": 1}, "in_edges": [], "out_edges": []}
    runner = NodeRunner(ctx, spec, epoch=1, stop=threading.Event())
    assert runner.stats()["details"] == {}  # not set yet: sent when it is
    runner.node.details = {"backend": "test"}
    sent = [runner.stats()["details"] for _ in range(4)]
    assert sent == [{"backend": "test"}, {}, {}, {}]
    ctx.term()
