"""`streamer check` finds what would otherwise fail once the graph runs, and says where and
what to do."""
import os
import subprocess
import sys

import pytest

from streamer.graph import load_graph
from tests.runtime_helpers import ROOT



def check(graph, *args, cwd=ROOT):
    """`streamer check` in a subprocess, from `cwd`, on this checkout's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "streamer", "check", str(graph), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("content,line,found", [
    (b"nodes:\n  {[a]: 1}\n", 2, "a key must be a name or a number, not a list"),
    (b"nodes:\n  ? [a]\n  : {type: util.counter}\n", 2, "a key must be a name or a number, not a list"),
    (b"nodes:\n  a: {type: util.counter}\n  b: {type: \"\xe9\"}\n", 3, "the file is not UTF-8 text (byte 0xe9)"),
    (b"nodes:\n  a: {type: util.counter}\n  b: \x01\n", 3, "character 0x0001 is not allowed in YAML"),
])
def test_files_yaml_cannot_read_are_problems_with_a_line(tmp_path, content, line, found):
    g = tmp_path / "g.yaml"
    g.write_bytes(content)
    out = check(g)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"{g}:{line}: {found}" in out.stderr


SHIPPED = sorted((ROOT / "graphs").glob("*.yaml"))
TEST_GRAPHS = sorted(p for p in (ROOT / "tests" / "graphs").glob("*.yaml") if p.name != "broken.yaml")


@pytest.mark.parametrize("graph", SHIPPED + TEST_GRAPHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_and_test_graph_passes_check(graph, tmp_path, monkeypatch):
    text = graph.read_text()
    if "shared/data" in text or "${RAW}" in text or "${EDF" in text:
        data = pytest.importorskip("tools.datasets").data_dir()
        if not data.is_dir():
            pytest.skip(f"shared recordings not found at {data} (set STREAMER_DATA)")
        monkeypatch.setenv("RAW", str(data / "events" / "gen3_evt2.raw"))
        monkeypatch.setenv("EDF", str(data / "eeg" / "S001R04.edf"))
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setenv("LSL_NAME", "check")
    monkeypatch.chdir(tmp_path)  # relative paths are the graph's own, wherever it is checked from
    assert load_graph(graph).nodes
