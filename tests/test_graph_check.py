"""`streamer check` finds what would otherwise fail once the graph runs, and says where and
what to do."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamer import registry
from streamer.graph import RESERVED_KEYS, RUNTIME_KEYS, GraphError, load_graph, parse_graph
from tests.runtime_helpers import ROOT

SHAPES = ROOT / "models" / "shapes.nir"
DEMO = ROOT / "graphs" / "demo.yaml"


def check(graph, *args, cwd=ROOT):
    """`streamer check` in a subprocess, from `cwd`, on this checkout's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "streamer", "check", str(graph), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def problems(text: str, **kw) -> list[str]:
    with pytest.raises(GraphError) as exc:
        parse_graph(text, "g.yaml", **kw)
    return [str(p) for p in exc.value.problems]


def model_graph(shape: str = "[2, 32, 32]", labels: str = "[a, b, c, d]") -> str:
    return f"""
nodes:
  cam: {{type: dvs.synthetic, width: 32, height: 32}}
  bins: {{type: events.bin, shape: {shape}}}
  snn: {{type: snn.infer, model: {SHAPES}, labels: {labels}}}
  loihi: {{type: coprocessor.loihi, model: {SHAPES}, labels: {labels}}}
  spinn: {{type: coprocessor.spinnaker, model: {SHAPES}, labels: {labels}}}
edges:
  - cam -> bins
  - bins -> snn
  - bins -> loihi
  - bins -> spinn
"""


def test_a_valid_model_graph_passes():
    parse_graph(model_graph())


def test_labels_must_name_every_output_of_the_model():
    p = problems(model_graph(labels="[a, b, c]"))
    assert p == [f"g.yaml:{line}: node '{node}': 3 labels for a model with 4 outputs ({SHAPES}); give one "
                 "label per output, in output order" for line, node in ((5, "snn"), (6, "loihi"), (7, "spinn"))]


def test_frames_must_have_the_shape_of_the_model_input():
    p = problems(model_graph(shape="[2, 34, 34]"))
    assert p == [f"g.yaml:{line}: node '{node}': shapes do not match: bins.out sends [2, 34, 34] per step but "
                 f"{node}.in takes [2, 32, 32]; change `shape` of bins or `model` of {node} so that they agree"
                 for line, node in ((10, "snn"), (11, "loihi"), (12, "spinn"))]


def test_a_membrane_readout_needs_a_membrane_and_a_model_must_load(tmp_path):
    import nir
    import numpy as np
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                                "fc": nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
                                "output": nir.Output(output_type=np.array([2]))},
                         edges=[("input", "fc"), ("fc", "output")])
    nir.write(tmp_path / "affine.nir", graph)
    (tmp_path / "text.nir").write_text("not a model")
    text = f"""
nodes:
  a: {{type: snn.infer, model: {tmp_path}/affine.nir, readout: membrane}}
  b: {{type: snn.infer, model: {tmp_path}/text.nir}}
"""
    p = [x for x in problems(text) if "no edge feeds it" not in x]
    assert p[0] == ("g.yaml:3: node 'a': readout 'membrane' needs an output layer with a membrane (LI, LIF, "
                    "IF...); this model's has none: use readout 'spikes'")
    assert p[1].startswith(f"g.yaml:4: node 'b': cannot load the model: {tmp_path}/text.nir: not a readable NIR")


def test_spikes_fit_a_model_input_of_the_same_size():
    # snn.infer sends its output layer's spikes (4 per step): a model of 4 inputs takes them
    # as they are, a (2, 32, 32) one does not.
    text = f"""
nodes:
  cam: {{type: dvs.synthetic, width: 32, height: 32}}
  bins: {{type: events.bin, shape: [2, 32, 32]}}
  first: {{type: snn.infer, model: {SHAPES}, emit_spikes: true}}
  second: {{type: snn.infer, model: {SHAPES}}}
edges:
  - cam -> bins
  - bins -> first
  - first.out -> second
"""
    assert problems(text) == ["g.yaml:10: node 'second': shapes do not match: first.out sends [4] per step but "
                              "second.in takes [2, 32, 32]; change `model` of first or `model` of second so "
                              "that they agree"]


@pytest.mark.integration
def test_a_notch_filter_without_its_frequency_is_refused_by_check(tmp_path):
    g = tmp_path / "g.yaml"
    g.write_text("""
nodes:
  eeg: {type: eeg.synthetic}
  notch:
    type: signal.filter
    kind: notch
edges: [eeg -> notch]
""")
    out = check(g)
    assert out.returncode == 2, out.stderr
    assert f"{g}:6: node 'notch': parameters of signal.filter: kind 'notch' needs notch_hz > 0 Hz; " \
           "set notch_hz (now None)" in out.stderr


@pytest.mark.parametrize("node,found", [
    ("{type: signal.filter, kind: highpass, l_freq_hz: null}", "kind 'highpass' needs l_freq_hz > 0 Hz"),
    ("{type: signal.encode, threshold: 0}", "delta thresholds must be > 0"),
    ("{type: signal.epochs, tmin_s: 1.0, tmax_s: 0.5}", "tmax_s (0.5) must be after tmin_s (1.0)"),
    ("{type: signal.reref, method: laplacian}", "method laplacian needs neighbours or a montage"),
    ("{type: signal.reref, method: laplacian, montage: standard_1002}", "'standard_1002' is not a standard MNE"),
    ("{type: signal.project, matrix: [[1, 0]], channels: [C3, C4], names: [a, b]}", "2 names for 1 filters"),
    ("{type: actuators.log, level: LOUD}", "unknown logging level 'LOUD'"),
    ("{type: actuators.osc, address_prefix: robot}", "address_prefix must start with '/'"),
    ("{type: coprocessor.spinnaker, model: MODEL, virtual_board: false}", "give machine_address or spalloc_server"),
    ("{type: eeg.file, path: []}", "path is an empty list"),
    ("{type: eeg.file, path: MODEL, file_label: '(ictal'}", "'(ictal' is not a regular expression"),
    ("{type: eeg.lsl}", "give the stream's name, stream_type or source_id"),
    ("{type: eeg.brainflow, channels: emgg}", "channels must be one of eeg, emg, eog, ecg, exg"),
    ("{type: eeg.brainflow, board: cytn}", "unknown BrainFlow board 'cytn'; did you mean 'cyton'?"),
    ("{type: dvs.network}", "give address (host:port, TCP) or socket_path"),
    ("{type: dvs.camera, backend: inivation, biases: {bias_fo: 1}}", "biases are Prophesee settings"),
    ("{type: events.hotpixels, pixels: [[-1, 3]]}", "pixels [[-1, 3]] lie outside any sensor"),
])
def test_parameters_that_start_would_refuse_are_refused_by_check(node, found):
    text = f"nodes:\n  n: {node.replace('MODEL', str(SHAPES))}\n"
    p = [x for x in problems(text) if "no edge feeds it" not in x]
    assert len(p) == 1 and p[0].startswith("g.yaml:2: node 'n': ") and found in p[0], p


def test_a_file_label_every_file_name_must_match(tmp_path):
    (tmp_path / "clip_ictal_1.mat").touch()
    (tmp_path / "clip_2.mat").touch()
    text = f"""
nodes:
  eeg:
    type: eeg.file
    path: {tmp_path}/clip_*.mat
    file_label: _(ictal|interictal)_
"""
    p = problems(text)
    assert p == [f"g.yaml:6: node 'eeg': {tmp_path}/clip_2.mat: its name does not match file_label "
                 "'_(ictal|interictal)_'; change file_label or the files"]


@pytest.mark.integration
def test_commands_the_gate_would_always_block_name_the_map_and_the_gate():
    out = check(DEMO, "--set", "gate.allow=[left, right, stop]", "--set", "action.labels.circle.action=left",
                "--set", "action.labels.circle.value=5", "--set", "gate.bounds={left: [0, 2]}")
    assert out.returncode == 2, out.stderr
    edge = f"demo.yaml:{DEMO.read_text().splitlines().index('  - action -> gate') + 1}: node 'gate': edge action.out -> gate.in"
    assert f"{edge}: every 'left' command of value 5 would be " \
           "blocked: the value lies outside the gate's bounds [0.0, 2.0] for 'left'; change the value or " \
           "the bounds (or set out_of_bounds: clamp)" in out.stderr
    assert f"{edge}: every 'forward' command of value None would " \
           "be blocked: 'forward' is not in the gate's allow list ['left', 'right', 'stop']; add it there or send " \
           "an allowed action" in out.stderr
    # square -> right has no value: the bounds of 'left' do not concern it
    assert "2 problems" in out.stderr
    # a gate told to clamp lets the value through, at its bound
    out = check(DEMO, "--set", "action.labels.circle.action=left", "--set", "action.labels.circle.value=5",
                "--set", "gate.bounds={left: [0, 2]}", "--set", "gate.out_of_bounds=clamp")
    assert out.returncode == 0, out.stderr


@pytest.mark.integration
def test_a_stimulation_outside_the_seizure_graph_bounds_is_refused(shared_data):
    path = ROOT / "graphs" / "seeg_seizure.yaml"
    out = check(path, "--set", "stim.labels.seizure.value=5")
    assert out.returncode == 2, out.stderr
    line = path.read_text().splitlines().index("  - stim -> gate") + 1  # the edge is named
    assert f"seeg_seizure.yaml:{line}: node 'gate': edge stim.out -> gate.in: every 'stimulate' command of " \
           "value 5 would be blocked" in out.stderr


@pytest.mark.integration
def test_one_recorder_port_takes_one_stream_type(tmp_path):
    g = tmp_path / "g.yaml"
    g.write_text(f"""
nodes:
  counter: {{type: util.counter}}
  cam: {{type: dvs.synthetic}}
  rec: {{type: record, path: {tmp_path}/x.rec}}
edges:
  - counter -> rec.data
  - cam.markers -> rec.data
  - cam -> rec
""")
    out = check(g)
    assert out.returncode == 2, out.stderr
    assert f"{g}:8: node 'rec': rec.data takes Samples from counter.out (line 7) and Marker from cam.markers; one " \
           "port name holds one stream type: send this edge to another port, e.g. rec.cam_markers" in out.stderr
    assert "1 problem" in out.stderr


@pytest.mark.integration
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


def test_no_node_type_has_a_parameter_named_like_a_runtime_key():
    names = registry.names()
    assert len(names) > 40
    for name in names:
        clash = (RUNTIME_KEYS | RESERVED_KEYS) & set(registry.get(name).Params.model_fields)
        assert not clash, f"{name} has parameters named like keys of the runtime: {clash}"


@pytest.mark.integration
def test_a_third_party_node_whose_parameters_take_runtime_keys_is_refused(tmp_path):
    g = tmp_path / "g.yaml"
    g.write_text("nodes:\n  src: {type: 'tests.plugin_nodes:GroupedSource'}\n  log: {type: util.log}\n"
                 "edges: [src -> log]\n")
    out = check(g)
    assert out.returncode == 2, out.stderr
    assert f"{g}:2: node 'src': tests.plugin_nodes:GroupedSource has parameters named like keys of the runtime " \
           "(group, host); the node type must rename them" in out.stderr


SHIPPED = sorted((ROOT / "graphs").glob("*.yaml"))
TEST_GRAPHS = sorted(p for p in (ROOT / "tests" / "graphs").glob("*.yaml") if p.name != "broken.yaml")


def _needs(path: Path) -> list:
    """The marks of a graph's check: the shared recordings, the Lava interpreter."""
    text = path.read_text()
    marks = [pytest.mark.data] if "shared/data" in text or "${RAW}" in text or "${EDF" in text else []
    return marks + ([pytest.mark.lava] if ".venv-lava/" in text else [])


@pytest.mark.parametrize("graph", [pytest.param(p, id=f"{p.parent.name}/{p.name}", marks=_needs(p))
                                   for p in SHIPPED + TEST_GRAPHS])
def test_every_shipped_and_test_graph_passes_check(graph, tmp_path, monkeypatch):
    text = graph.read_text()
    lava = ROOT / ".venv-lava" / "bin" / "python"
    if ".venv-lava/" in text and not lava.exists():
        pytest.skip(f"{graph.name} runs a node in the Lava environment, not found at {lava} "
                    "(make it with tools/envs/make_lava_env.sh)")
    if "shared/data" in text or "${RAW}" in text or "${EDF" in text:
        data = pytest.importorskip("tools.datasets").data_dir()
        if not data.is_dir():
            pytest.skip(f"shared recordings not found at {data} (set STREAMER_DATA)")
        monkeypatch.setenv("RAW", str(data / "events" / "gen3_evt2.raw"))
        monkeypatch.setenv("EDF", str(data / "eeg" / "S001R04.edf"))
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setenv("LSL_NAME", "check")
    monkeypatch.setenv("UDP_ADDR", "127.0.0.1:5800")
    monkeypatch.setenv("REC_PATH", str(tmp_path / "session.rec"))
    monkeypatch.chdir(tmp_path)  # relative paths are the graph's own, wherever it is checked from
    assert load_graph(graph).nodes


@pytest.mark.integration  # runs streamer check in a child process
def test_another_type_set_on_the_command_line_drops_what_it_lacks_and_says_so():
    """The header of eeg_motor_imagery.yaml: the synthetic source swapped for BrainFlow."""
    graph = ROOT / "graphs" / "eeg_motor_imagery.yaml"
    out = check(graph, "--set", "eeg.type=eeg.brainflow", "--set", "eeg.board=synthetic")
    assert out.returncode == 0, out.stderr
    assert ("dropped the parameters of eeg.synthetic that eeg.brainflow lacks: classes, trial_s, rest_s, "
            "seed, n_trials, speed") in out.stderr
    g = load_graph(graph, ["eeg.type=eeg.brainflow"])
    assert g.nodes["eeg"].params == {} and len(g.notes) == 1
    # What the command line sets is kept, and judged against the new type.
    with pytest.raises(GraphError) as exc:
        load_graph(graph, ["eeg.type=eeg.brainflow", "eeg.seed=3"])
    assert [p.message.split(" for ")[0] for p in exc.value.problems] == ["unknown parameter 'seed'"]
    assert load_graph(graph).notes == []


@pytest.mark.integration  # runs streamer check in a child process
def test_a_missing_lava_interpreter_says_how_to_make_it():
    out = check(ROOT / "graphs" / "nmnist_loihi.yaml", "--set", "chip.python=../no-such-venv/bin/python")
    assert out.returncode == 2
    assert "interpreter '../no-such-venv/bin/python' not found" in out.stderr
    assert "bash tools/envs/make_lava_env.sh" in out.stderr
