"""graphs/nmnist_loihi.yaml in a real `streamer run`: the N-MNIST CNN on Lava's fixed-point
simulator (its node in the Lava interpreter) beside our Numba engine on the same frames, and
the same graph with the chip node switched to SpiNNaker, mapped on sPyNNaker's virtual board."""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest

from drivers.dvs import read_events
from tests.conftest import need
from tests.runtime_helpers import ROOT, run
from tools.bench.coprocessors import lava_python

pytestmark = pytest.mark.integration

GRAPH = ROOT / "graphs" / "nmnist_loihi.yaml"
SAMPLES = 20


@pytest.fixture
def nmnist(shared_data, monkeypatch, tmp_path):
    root = need(shared_data / "nmnist")
    model = need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir")
    monkeypatch.setenv("NMNIST_DIR", str(root))
    monkeypatch.setenv("NMNIST_MODEL", str(model))
    monkeypatch.setenv("SUMMARY", str(tmp_path / "score.json"))
    return root, model


@pytest.mark.lava
def test_loihi_simulator_in_a_graph_agrees_with_the_engine(nmnist, tmp_path):
    if not lava_python().exists():
        pytest.skip(f"no Lava interpreter at {lava_python()} (make it with tools/envs/make_lava_env.sh)")
    _, model = nmnist
    code, figures, err = run(GRAPH, "--set", f"camera.limit={SAMPLES}", "--set", f"chip.python={lava_python()}",
                             timeout=300, tmp=tmp_path)
    assert code == 0, err[-3000:]
    got = json.loads((tmp_path / "score.json").read_text())
    # Every sample decided by the chip, paired with its label and with the engine's decision.
    assert got["samples"] == got["decisions"] == SAMPLES and got["undecided"] == 0, got
    assert got["agreement"]["compared"] == SAMPLES
    assert got["agreement"]["rate"] >= 0.95, got["agreement"]
    assert got["accuracy"] >= 0.9, got
    assert got["mean_steps"] < 100, got  # Dynamic Confidence stops the chip early too
    chip = figures["nodes"]["chip"]
    assert chip["backend"] == "Loihi2SimCfg(fixed_pt)" and chip["counters"]["backend_sim"] == 1
    assert chip["counters"]["decisions"] == figures["nodes"]["engine"]["counters"]["decisions"] == SAMPLES
    assert "trials_cut" not in chip["counters"]
    # The quantisation of every spiking layer is in the run's figures.
    spiking = [k for k, v in nir.read(model).nodes.items() if isinstance(v, nir.IF)]
    quant = chip["details"]["quantization"]
    assert sorted(q["layer"] for q in quant) == sorted(spiking)
    assert all(0 < q["weight_rel_rms"] < 0.03 for q in quant), quant
    assert all(e["lost"] == 0 for e in figures["edges"].values())


@pytest.mark.spinnaker
def test_spinnaker_virtual_board_in_the_same_graph(nmnist, tmp_path):
    pytest.importorskip("spynnaker", reason="sPyNNaker is not installed (pip install sPyNNaker)")
    root, _ = nmnist
    n = 3
    switch = ("--set", f"camera.limit={n}", "--set", "chip.type=coprocessor.spinnaker",
              "--set", "chip.python=null", "--set", f"chip.run_dir={tmp_path / 'spinnaker'}")
    # The chip node runs trials on Loihi; a free-running board cannot reset between them,
    # so the switch alone is refused by the check, on the line of `mode`, before anything starts.
    code, _, err = run(GRAPH, *switch, timeout=120, tmp=tmp_path)
    assert code != 0 and "mode 'trial' is not supported" in err, err[-3000:]
    lines = GRAPH.read_text().splitlines()
    chip_at = lines.index("  chip:")
    line = next(i for i in range(chip_at, len(lines)) if lines[i].strip() == "mode: trial") + 1
    assert f"nmnist_loihi.yaml:{line}: node 'chip'" in err, err[-3000:]
    code, figures, err = run(GRAPH, *switch, "--set", "chip.mode=continuous", timeout=300, tmp=tmp_path)
    assert code == 0, err[-3000:]
    chip = figures["nodes"]["chip"]
    assert chip["counters"]["mapped"] == 1 and chip["backend"] == "spinnaker"
    assert chip["details"]["board"] == "SpiNNaker-5 virtual board"
    assert set(chip["details"]["populations"]) == {"1", "3", "6", "10", "12"}
    assert any("IF as a LIF" in a for a in chip["details"]["approximations"])
    # Every event of the samples became one 32-bit key in an EIEIO packet (63 keys at most each).
    events = sum(len(read_events(root / f"{i}.bin")) for i in range(1, n + 1))
    assert chip["counters"]["input_spikes"] == events
    assert events / 63 <= chip["counters"]["eieio_packets"] <= chip["in_items"]
    assert "virtual_board = True" in (tmp_path / "spinnaker" / ".spynnaker.cfg").read_text()
    # The engine beside it still classified every sample.
    assert figures["nodes"]["engine"]["counters"]["decisions"] == n
    assert np.all([e["lost"] == 0 for e in figures["edges"].values()])
