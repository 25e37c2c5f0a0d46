"""Every registered node type with inputs, fed sequences of valid but hostile messages
(tests/message_strategies.py): each receive() returns what `emitted()` accepts, messages
that pass `streams.validate` and go on the wire, on a declared output of a matching stream
type, or raises Rejected naming the node; finish() then ends cleanly. Never another
exception, a hang or a Numba access out of bounds (the nodes with kernels are fuzzed again
in a process with NUMBA_BOUNDSCHECK)."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from streamer import registry, streams, wire
from streamer.node import WILDCARD, Rejected, emitted
from streamer.streams import ANY, STREAM_TYPES, Message
from tests.message_strategies import messages

# Hostile input for every node type takes minutes, and one test fuzzes again in a
# process: the full lane's.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
NAME = "fuzzed"
_unique = itertools.count()

# Working parameters per node type (several sets where a parameter changes the code path).
CASES: dict[str, list[dict]] = {
    "events.denoise": [{}],
    "events.refractory": [{"refractory_us": 100, "restart_on_drop": True}],
    "events.hotpixels": [{"pixels": [[0, 0]], "learn_ms": 0.5, "factor": 2.0}],
    "events.roi": [{"x1": 4, "y1": 4}, {"x0": 1, "y0": 1, "x1": 30, "y1": 30, "crop": False}],
    "events.polarity": [{"keep": "on", "merge": True}],
    "events.downsample": [{"factor": 3}, {"factor": 2, "accumulate": 2}],
    "events.flip": [{"flip_x": True, "rotate": 90}, {"flip_y": True, "rotate": 270}],
    "events.ratelimit": [{"max_events_per_s": 1000, "burst_ms": 2}],
    "events.bin": [{"bin_us": 1000, "shape": [2, 8, 8]},
                   {"bin_us": 7, "shape": [1, 4, 6], "fit": "crop", "frames_per_message": 3}],
    "signal.filter": [{}, {"kind": "notch", "notch_hz": 50.0}],
    "signal.pick": [{"names": ["C3", "C4"]}, {"types": ["eeg"]}],
    "signal.reref": [{}, {"method": "bipolar"}, {"method": "bipolar", "pairs": [["C3", "C4"]]},
                     {"method": "laplacian", "neighbours": {"C3": ["C4", "Cz"]}}],
    "signal.project": [{"matrix": [[1.0, -1.0]], "channels": ["C3", "C4"]}],
    "signal.window": [{"window_ms": 50, "step_ms": 20}, {"window_ms": 10, "step_ms": 30, "output": "samples"}],
    "signal.bandpower": [{"window_ms": 200, "step_ms": 100, "segment_ms": 100, "bands": {"a": [0, 40]}},
                         {"window_ms": 200, "step_ms": 30, "segment_ms": 100, "bands": {"a": [0, 400]}},
                         {"method": "hilbert", "window_ms": 100, "step_ms": 50, "bands": {"a": [1, 30]}}],
    "signal.resample": [{"up": 2, "down": 3}, {"sfreq_hz": 100.0}],
    "signal.encode": [{"step_ms": 10, "calibration_s": 0.05}, {"threshold": 0.5, "output": "spikes"},
                      {"method": "crossing", "calibration_s": 0.02}, {"method": "rate", "gain": 1e4}],
    "signal.epochs": [{"tmin_s": -0.01, "tmax_s": 0.05}, {"labels": ["T1"], "tmax_s": 0.2, "keep_s": 0.5}],
    "signal.artifacts": [{}, {"clip_level": 1.0, "amplitude": 1e-3, "flat_ms": None}],
    "snn.infer": [{"model": str(MODELS / "motor_imagery.nir"), "dt_s": 0.02, "emit_spikes": True,
                   "early_exit": {"max_steps": 5}},
                  {"model": str(MODELS / "eegmmidb_left_right.nir"), "mode": "trial", "trial_markers": ["T1", "T2"],
                   "delay_s": 0.5, "trigger": "activity", "early_exit": {"max_steps": 4}, "labels": ["l", "r"]},
                  {"model": str(MODELS / "shapes.nir"), "dt_s": 0.01, "readout": "membrane", "mode": "trial",
                   "early_exit": {"max_steps": 3}}],
    "snn.score": [{}, {"match": "index", "classes": ["T1", "T2"], "names": {"T1": "left"}, "skip": 1}],
    "bci.csp_lda": [{"classes": ["T1", "T2"], "n_calibration": 4, "n_pairs": 1}],
    "bci.pipeline": [{"classes": ["T1", "T2"], "n_calibration": 4, "pipeline": "ts_lr"}],
    "bci.seizure": [{"baseline_windows": 2, "segment_s": 0.01, "bands": {"a": [1, 40]}}],
    "bci.decoder": [{"kind": "csp_lda"}, {"kind": "ts_lr"}],  # a decoder file fitted in build()
    "cues.align": [{}, {"labels": ["T1"]}],
    "cues.feedback": [{}],
    "actions.map": [{"labels": ["left", "right"]},
                    {"labels": {"left": "left", "right": {"action": "move", "value": 2}, "stop": None},
                     "min_confidence": 0.5, "switch_confidence": 0.7, "dwell_decisions": 2, "debounce_decisions": 1,
                     "refractory_ms": 10}],
    "actions.gate": [{"allow": ["left", "right"], "bounds": {"left": [0, 1]}, "max_rate_hz": 100},
                     {"bounds": {"move": [-1, 1]}, "out_of_bounds": "clamp", "on_block": "safe", "stale_ms": 1e9}],
    "actuators.log": [{}],
    "actuators.zmq": [{"endpoint": "inproc://fuzzed-actuator"}],
    "actuators.udp": [{"address": "127.0.0.1:9"}],
    "actuators.osc": [{"address": "127.0.0.1:9"}],
    "actuators.serial": [{"device": "loop://", "format": "text", "template": "{action} {value} {nothing}"}],
    "lsl.out": [{"timestamps": "times"}],
    "record": [{}],
    "util.log": [{"max_rate_hz": 1e6}],
    "util.delay": [{"delay_ms": 0}],
}
# Coprocessors take their input through snn.infer's reader (nodes.snn.trials.input_bins), fuzzed
# directly in tests/test_snn_input_fuzz.py.
SKIPPED = {"coprocessor.loihi": "runs under the Lava interpreter (.venv-lava, Python 3.10)",
           "coprocessor.spinnaker": "takes seconds to map a network at start",
           "console": "starts a web server at start"}

# Frames/Spikes shapes the nodes take, so that fuzzing gets past their shape checks.
SHAPES: dict[str, list[tuple[int, ...]]] = {
    "snn.infer": [(32,), (8,), (2, 32, 32), (2,)],
    "bci.csp_lda": [(2, 16), (3, 16), (1, 8)],
    "bci.pipeline": [(2, 16), (3, 16), (1, 8)],
    "bci.seizure": [(2, 64), (1, 16)],
    "bci.decoder": [(1, 2, 16), (1, 3, 16), (2, 16)],
}


def with_inputs() -> list[str]:
    return [n for n in registry.names() if registry.get(n).inputs]


def test_every_node_type_with_inputs_is_fuzzed_or_skipped_with_a_reason():
    assert set(with_inputs()) == set(CASES) | set(SKIPPED)


def cases() -> list:
    return [pytest.param(name, params, id=f"{name}-{i}") for name in sorted(CASES)
            for i, params in enumerate(CASES[name])]


def build(name: str, params: dict, tmp: Path):
    cls = registry.get(name)
    params = dict(params)
    if name == "record":
        params["path"] = str(tmp / f"rec{next(_unique)}.rec")
    if name == "actuators.zmq":
        params["endpoint"] = f"inproc://fuzzed-{next(_unique)}"
    if name == "bci.decoder":
        params["model"] = str(decoder_file(params.pop("kind"), tmp))
    node = cls(**params)
    node.name = NAME
    return node


def decoder_file(kind: str, tmp: Path) -> Path:
    """A two-channel decoder of `kind` fitted on noise, saved as a session's fit phase does."""
    from nodes.bci.decoder_file import save_decoder
    from nodes.bci.epoch_decoders import FITS

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 2, 16)), np.arange(12) % 2
    model = {"kind": kind, "classes": ["T1", "T2"], "channels": ["C3", "C4"], "sfreq": 160.0,
             "preprocessing": {}, "params": FITS[kind](x, y), "training": {}}
    return save_decoder(tmp / f"decoder{next(_unique)}.json", model)


def port_streams(node) -> dict[str, tuple[str, ...]]:
    """Input port -> stream types a message on it may have (a wildcard port: any, on any name)."""
    ins = type(node).ports(node.params)[0]
    out = {}
    for port, spec in ins.items():
        types = (spec.stream,) if isinstance(spec.stream, str) else tuple(spec.stream)
        if ANY in types:
            types = STREAM_TYPES
        out["rec" if port == WILDCARD else port] = types
    return out


@st.composite
def inputs(draw, node, name: str) -> list[tuple[str, Message]]:
    ports = port_streams(node)
    out = []
    for _ in range(draw(st.integers(1, 6))):
        port = draw(st.sampled_from(sorted(ports)))
        stream = draw(st.sampled_from(ports[port]))
        out += [(port, m) for m in draw(messages(stream, SHAPES.get(name, ())))]
    return out


def check_output(node, out) -> list[tuple[str, Message]]:
    outs = type(node).ports(node.params)[1]
    pairs = emitted(node, out)
    for port, msg in pairs:
        assert port in outs, f"emitted on undeclared port {port!r}"
        assert isinstance(msg, Message)
        streams.validate(msg)
        wire.decode(wire.encode(msg, 0, 0, b"t"))  # and it can be sent
        declared = outs[port].stream
        if declared != ANY:
            assert msg.stream in ((declared,) if isinstance(declared, str) else declared)
    return pairs


def drive(node, name: str, sequence: list[tuple[str, Message]]) -> None:
    """Feed a started node and check every outcome."""
    for port, msg in sequence:
        streams.validate(msg)  # the strategies make only what the runtime lets through
        try:
            out = node.receive(port, msg)
        except Rejected as exc:
            text = str(exc)
            assert NAME in text or name in text, f"rejection does not name the node: {text}"
            continue
        check_output(node, out)
    check_output(node, node.finish())
    if node.tick_interval_s:
        check_output(node, node.tick())


# FUZZ_EXAMPLES raises the count for a longer search; FUZZ_NO_SHRINK reports failures as found.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 25)), deadline=None, derandomize=True,
                database=None, suppress_health_check=list(HealthCheck),
                phases=[Phase.generate] if os.environ.get("FUZZ_NO_SHRINK") else list(Phase))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,params", cases())
def test_no_valid_input_crashes_a_node(name, params, tmp_path):
    @FUZZ
    @given(data=st.data())
    def fuzz(data):
        node = build(name, params, tmp_path)
        node.start()
        try:
            drive(node, name, data.draw(inputs(node, name)))
        finally:
            node.stop()

    fuzz()


# Node types whose kernels index arrays with values taken from the input.
NUMBA_NODES = ["events.denoise", "events.refractory", "events.downsample", "events.bin", "signal.encode",
               "signal.filter", "signal.artifacts", "signal.reref", "signal.resample", "signal.bandpower"]


@pytest.mark.timeout(300)
@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") == "1", reason="this is the run it starts")
def test_no_kernel_reads_or_writes_out_of_bounds(tmp_path):
    """Numba does not check bounds: the same fuzzing with NUMBA_BOUNDSCHECK, in a process with
    its own kernel cache (cached kernels were compiled without the checks), turns an access
    out of bounds into an IndexError, which fails the run."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
           "FUZZ_EXAMPLES": "10"}
    select = " or ".join(f"[{name}-" for name in NUMBA_NODES)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                           "-k", f"test_no_valid_input_crashes_a_node and ({select})"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"{sum(len(CASES[n]) for n in NUMBA_NODES)} passed" in proc.stdout
