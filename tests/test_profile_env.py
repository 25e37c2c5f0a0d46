"""STREAMER_PROFILE=folder: each process of a run leaves its profile there, naming the
functions its nodes spent their time in."""
from __future__ import annotations

import pstats

import pytest

from tests.runtime_helpers import run, write_graph

pytestmark = pytest.mark.integration


def test_each_process_leaves_a_profile_of_its_nodes(tmp_path, monkeypatch):
    prof = tmp_path / "prof"
    monkeypatch.setenv("STREAMER_PROFILE", str(prof))
    g = write_graph(tmp_path, f"""
nodes:
  counter: {{type: util.counter, count: 200, chunk: 10, rate_hz: 0}}
  boom: {{type: "tests.runtime_nodes:Boom", after: 100000}}
  rec: {{type: record, path: "{tmp_path / 'out.rec'}"}}
edges: [counter -> boom, boom -> rec]
""")
    code, figures, err = run(g, timeout=120)
    assert code == 0 and figures["reason"] == "finished", err[-2000:]
    assert sorted(p.name for p in prof.iterdir()) == ["boom.prof", "counter.prof", "rec.prof"]
    calls = {(f, name): c[1] for (f, _, name), c in pstats.Stats(str(prof / "boom.prof")).stats.items()}
    received = [n for (f, name), n in calls.items() if name == "receive" and f.endswith("runtime_nodes.py")]
    assert received == [20]  # Boom.receive, once per message of 10
