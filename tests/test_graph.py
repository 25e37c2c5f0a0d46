"""Graph files: parsing, overrides, and errors that name file, line and node."""
import subprocess
import sys
from pathlib import Path

import pytest

from streamer.graph import GraphError, load_graph, parse_graph
from streamer.node import Port, Sink
from streamer.streams import EVENTS

HERE = Path(__file__).parent
BROKEN = HERE / "graphs" / "broken.yaml"


def problems(text, **kw):
    with pytest.raises(GraphError) as exc:
        parse_graph(text, "g.yaml", **kw)
    return exc.value.problems


def test_a_valid_graph_resolves_default_ports_and_policies():
    g = parse_graph("""
name: ok
nodes:
  counter: {type: util.counter, count: 5, rate_hz: 0}
  slow: {type: util.delay, delay_ms: 0, group: g}
  rec: {type: record, path: /tmp/x.rec, group: g, on_failure: restart, max_restarts: 2}
edges:
  - counter -> slow
  - {from: slow.out, to: rec.samples, policy: latest}
""", "ok.yaml")
    assert g.name == "ok"
    assert [(e.src, e.src_port, e.dst, e.dst_port, e.policy) for e in g.edges] == [
        ("counter", "out", "slow", "in", "lossless"), ("slow", "out", "rec", "samples", "latest")]
    assert g.units() == {"counter": ["counter"], "g": ["slow", "rec"]}
    assert g.nodes["rec"].on_failure == "restart" and g.nodes["rec"].max_restarts == 2
    assert g.nodes["counter"].params == {"count": 5, "rate_hz": 0}


@pytest.mark.integration
def test_check_names_every_problem_with_its_line():
    out = subprocess.run([sys.executable, "-m", "streamer", "check", str(BROKEN)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    err = out.stderr
    # misspelled type, with a suggestion
    assert "broken.yaml:4: node 'counter': unknown node type 'util.countr'; did you mean 'util.counter'" in err
    # misspelled parameter, with a suggestion
    assert "broken.yaml:7: node 'slow': unknown parameter 'delay_msec'" in err and "'delay_ms'" in err
    # mistyped parameter
    assert "broken.yaml:15: node 'replay_src': parameter 'rate_hz'" in err
    # wrong port
    assert "broken.yaml:18: node 'slow': util.delay has no output 'output'" in err
    # a sink has no outputs at all
    assert "broken.yaml:20: node 'rec': record has no output 'x'" in err


def test_mismatched_stream_types_are_named():
    class EventsOnly(Sink):
        inputs = {"in": Port(EVENTS)}

    import streamer.registry as registry
    registry.catalog()["test.events_only"] = EventsOnly
    try:
        p = problems("""
nodes:
  c: {type: util.counter}
  e: {type: test.events_only}
edges:
  - c -> e
""")
    finally:
        del registry.catalog()["test.events_only"]
    assert len(p) == 1 and p[0].line == 6 and p[0].node == "e"
    assert "c.out sends Samples but e.in takes Events" in p[0].message


def test_duplicates_cycles_and_unfed_inputs():
    p = problems("""
nodes:
  a: {type: util.counter}
  b: {type: util.delay}
  c: {type: util.delay}
  b: {type: util.delay}
edges:
  - a -> b
""")
    assert p[0].line == 6 and "duplicate key 'b'" in p[0].message
    p = problems("""
nodes:
  a: {type: util.counter}
  b: {type: util.delay}
  c: {type: util.delay}
  d: {type: util.log}
edges:
  - a -> b
  - b -> c
  - c -> b
  - a -> b
""")
    msgs = {(x.line, x.node): x.message for x in p}
    assert "cycle" in msgs[(10, "b")]
    assert "duplicate edge" in msgs[(11, "b")]
    assert "no edge feeds it" in msgs[(6, "d")]


def test_environment_variables_and_command_line_overrides(tmp_path):
    text = """
nodes:
  c: {type: util.counter, count: ${N}, chunk: ${CHUNK:-7}, rate_hz: 0}
  r: {type: record, path: "${OUT}/x.rec"}
edges: [c -> r]
"""
    g = parse_graph(text, env={"N": "12", "OUT": str(tmp_path)})
    assert g.nodes["c"].params == {"count": 12, "chunk": 7, "rate_hz": 0}
    assert g.nodes["r"].params["path"] == f"{tmp_path}/x.rec"
    g = parse_graph(text, env={"N": "12", "OUT": "o"}, sets=["c.chunk=3", "c.rate_hz=2.5", "r.fsync=true"])
    assert g.nodes["c"].params["chunk"] == 3 and g.nodes["c"].params["rate_hz"] == 2.5
    assert g.nodes["r"].params["fsync"] is True
    p = problems(text, env={"OUT": "o"})
    assert p[0].line == 3 and "N is not set" in p[0].message
    p = problems(text, env={"N": "1", "OUT": "o"}, sets=["cc.count=3"])
    assert "no such node; did you mean 'c'" in p[0].message


def test_yaml_syntax_error_has_a_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("nodes:\n  a: {type: util.counter\nedges: []\n")
    with pytest.raises(GraphError) as exc:
        load_graph(f)
    assert exc.value.problems[0].line in (2, 3)
    assert str(f) in str(exc.value)


def test_missing_graph_file():
    with pytest.raises(GraphError, match="cannot read the graph file"):
        load_graph("/nonexistent/graph.yaml")


def test_a_node_may_name_its_interpreter():
    g = parse_graph(f"""
nodes:
  c: {{type: util.counter, python: {sys.executable}}}
  l: {{type: util.log}}
edges: [c -> l]
""")
    assert g.nodes["c"].python == str(Path(sys.executable).absolute())
    p = problems("""
nodes:
  c: {type: util.counter, python: /nowhere/python3.10}
  l: {type: util.log}
edges: [c -> l]
""")
    assert p[0].line == 3 and "interpreter '/nowhere/python3.10' not found" in p[0].message
    # null (e.g. `--set c.python=null` when switching a node to a type the runner hosts): the
    # runner's own interpreter
    g = parse_graph("""
nodes:
  c: {type: util.counter, python: /nowhere/python3.10}
  l: {type: util.log}
edges: [c -> l]
""", sets=["c.python=null"])
    assert g.nodes["c"].python is None
