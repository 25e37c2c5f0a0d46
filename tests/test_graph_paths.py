"""Paths in graphs: relative ones are read from the graph file's folder (from the working
directory when given with --set), and every input file is checked before anything starts."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from streamer.graph import GraphError, load_graph
from tests.runtime_helpers import ROOT
from tests.test_graph_check import check

pytestmark = pytest.mark.integration

SHAPES = ROOT / "models" / "shapes.nir"


def snn_graph(model: str) -> str:
    return f"""
nodes:
  cam: {{type: dvs.synthetic, width: 32, height: 32}}
  bins: {{type: events.bin, shape: [2, 32, 32]}}
  snn:
    type: snn.infer
    model: {model}
edges:
  - cam -> bins
  - bins -> snn
"""


def test_a_missing_model_is_named_with_its_line(tmp_path):
    g = tmp_path / "g.yaml"
    g.write_text(snn_graph("models/missing.nir"))
    out = check(g)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert (f"{g}:7: node 'snn': parameter 'model': no file or folder at 'models/missing.nir' "
            f"(relative to the graph file's folder: {tmp_path}/models/missing.nir); check the path") in out.stderr


def test_every_glob_pattern_and_file_of_a_list_must_match(tmp_path):
    (tmp_path / "rec_1.edf").touch()
    g = tmp_path / "g.yaml"
    g.write_text("""
nodes:
  eeg:
    type: eeg.file
    path:
      - rec_*.edf
      - other_*.edf
      - rec_1.edf
      - gone.edf
  out: {type: util.log}
edges: [eeg -> out]
""")
    out = check(g)
    assert out.returncode == 2, out.stderr
    lines = [line.strip() for line in out.stderr.splitlines() if "node 'eeg'" in line]
    assert len(lines) == 2, out.stderr
    assert lines[0].startswith(f"{g}:7: node 'eeg': parameter 'path': no file matches 'other_*.edf'")
    assert lines[1].startswith(f"{g}:9: node 'eeg': parameter 'path': no file or folder at 'gone.edf'")


def test_a_missing_recording_or_event_file_is_a_problem_not_a_failed_run(tmp_path):
    g = tmp_path / "g.yaml"
    g.write_text(f"""
nodes:
  cam: {{type: dvs.file, path: {tmp_path}/none.raw}}
  rec: {{type: record, path: out/x.rec}}
  back: {{type: replay, path: none.rec}}
  log: {{type: util.log}}
edges:
  - cam -> rec.events
  - back.events -> log
""")
    out = check(g)
    assert out.returncode == 2, out.stderr
    assert f"{g}:3: node 'cam': parameter 'path': no file or folder at '{tmp_path}/none.raw'; check the path" \
        in out.stderr
    # the replay's outputs come from the missing file: named once, its edges not judged
    assert f"{g}:5: node 'back': parameter 'path': no file or folder at 'none.rec'" in out.stderr
    assert "2 problems" in out.stderr and "no output" not in out.stderr
    # an output path needs no file: record makes its folder
    assert "node 'rec'" not in out.stderr


def test_relative_paths_are_read_from_the_graph_folder(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    shutil.copy(SHAPES, tmp_path / "models" / "shapes.nir")
    (tmp_path / "graphs").mkdir()
    g = tmp_path / "graphs" / "g.yaml"
    g.write_text(snn_graph("../models/shapes.nir"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    graph = load_graph(g)
    assert graph.nodes["snn"].params["model"] == str(tmp_path / "models" / "shapes.nir")
    # --set values are typed by a user in a shell: read from the working directory
    shutil.copy(SHAPES, elsewhere / "mine.nir")
    graph = load_graph(g, ["snn.model=mine.nir"])
    assert graph.nodes["snn"].params["model"] == str(elsewhere / "mine.nir")
    with pytest.raises(GraphError, match=r"no file or folder at 'shapes\.nir' \(relative to the working directory"):
        load_graph(g, ["snn.model=shapes.nir"])


def test_the_shipped_demo_is_valid_from_any_working_directory(tmp_path):
    out = check(ROOT / "graphs" / "demo.yaml", cwd=tmp_path)
    assert out.returncode == 0 and "is valid" in out.stderr, out.stderr


def test_the_demo_runs_from_another_working_directory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRIALS": "3"}
    out = subprocess.run([sys.executable, "-m", "streamer", "run", str(ROOT / "graphs" / "demo.yaml"), "--no-live",
                          "--stats-json", str(tmp_path / "stats.json")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads((tmp_path / "stats.json").read_text())
    assert figures["nodes"]["snn"]["counters"]["decisions"] >= 2
