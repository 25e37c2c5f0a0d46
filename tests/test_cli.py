"""The command line: help, node documentation, check."""
import subprocess
import sys

import pytest

from tests.runtime_helpers import ROOT

pytestmark = pytest.mark.integration


def cli(*args, columns: int = 200):
    return subprocess.run([sys.executable, "-m", "streamer", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"COLUMNS": str(columns), "PATH": "/usr/bin:/bin"})


def test_help_for_every_command():
    for args in ((), ("run",), ("check",), ("nodes",)):
        out = cli(*args, "--help")
        assert out.returncode == 0 and "usage: streamer" in out.stdout
    assert "--stats-json" in cli("run", "--help").stdout and "--set" in cli("check", "--help").stdout


def test_nodes_lists_types_and_documents_one():
    out = cli("nodes")
    assert out.returncode == 0, out.stderr
    for name in ("util.counter", "util.log", "record", "replay"):
        assert name in out.stdout
    assert "cannot import" not in out.stdout, out.stdout
    out = cli("nodes", "util.counter")
    assert out.returncode == 0
    assert "rate_hz" in out.stdout and "samples per second" in out.stdout and "1000.0" in out.stdout
    out = cli("nodes", "util.countr")
    assert out.returncode == 2 and "did you mean 'util.counter'" in out.stderr


def test_check_accepts_a_valid_graph(tmp_path):
    g = tmp_path / "ok.yaml"
    g.write_text("nodes:\n  c: {type: util.counter}\n  l: {type: util.log}\nedges: [c -> l]\n")
    out = cli("check", str(g), columns=40)  # one line for scripts, however narrow the terminal
    assert out.returncode == 0 and "is valid: 2 nodes, 1 edges, 2 processes" in out.stderr, out.stderr


def test_node_documentation_keeps_square_brackets():
    out = cli("nodes", "actions.gate", columns=300)
    assert out.returncode == 0, out.stderr
    assert "{action: [min, max]}" in out.stdout, out.stdout


def test_every_node_type_of_the_shipped_graphs_is_documented():
    import yaml

    from streamer import registry
    types = set()
    for graph in sorted((ROOT / "graphs").glob("*.yaml")):
        types |= {spec["type"] for spec in yaml.safe_load(graph.read_text())["nodes"].values()}
    assert {"dvs.synthetic", "snn.infer", "actions.gate", "eeg.synthetic"} <= types
    for kind in sorted(types):
        cls = registry.get(kind)
        assert (cls.__doc__ or "").strip(), f"{kind} has no description"
        undocumented = [n for n, f in cls.Params.model_fields.items() if not f.description]
        assert not undocumented, f"{kind}: parameters without a description: {undocumented}"
        out = cli("nodes", kind)
        assert out.returncode == 0, out.stderr
        assert kind in out.stdout and "parameters" in out.stdout
