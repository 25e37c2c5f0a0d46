"""graphs/nmnist.yaml in a real `streamer run`: N-MNIST samples replayed from the shared
folder through the sinabs CNN with Dynamic Confidence score what the same network and
policy score offline, sample by sample."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import nodes.snn as snn
from tests.conftest import need
from tests.runtime_helpers import ROOT, run
from tools.calibrate import nmnist_frames

pytestmark = pytest.mark.integration

GRAPH = ROOT / "graphs" / "nmnist.yaml"
SAMPLES = 100


def _offline(root, model, early_exit: dict) -> tuple[set[str], float]:
    """Samples got wrong and mean steps, one sample at a time outside the runtime."""
    labels = dict(np.loadtxt(root / "labels.txt", dtype=np.int64))
    net = snn.load(model, dt=1e-3, convention="sinabs")
    policy = snn.DynamicConfidence(**{k: v for k, v in early_exit.items() if k != "policy"})
    wrong, steps = set(), []
    for i in range(1, SAMPLES + 1):
        res = net.classify(nmnist_frames(root / f"{i}.bin"), early_exit=policy)
        if res.index != labels[i]:
            wrong.add(f"{i}.bin")
        steps.append(res.steps)
    return wrong, float(np.mean(steps))


def test_replayed_folder_scores_like_offline(shared_data, tmp_path, monkeypatch):
    root = need(shared_data / "nmnist")
    model = need(shared_data / "nir" / "02_cnn" / "cnn_sinabs.nir")
    summary = tmp_path / "score.json"
    for name, value in {"NMNIST_DIR": root, "NMNIST_MODEL": model, "SUMMARY": summary}.items():
        monkeypatch.setenv(name, str(value))
    # --set as well as the environment: the replay as fast as possible, 100 samples
    code, figures, err = run(GRAPH, "--set", f"camera.limit={SAMPLES}", "--set", "camera.speed=0",
                             timeout=90, tmp=tmp_path)
    assert code == 0, err[-3000:]
    got = json.loads(summary.read_text())
    # every sample decided, each decision paired with its own sample
    assert got["samples"] == got["decisions"] == SAMPLES
    assert got["undecided"] == got["unlabelled"] == 0
    assert "trials_cut" not in figures["nodes"]["snn"]["counters"]
    early_exit = yaml.safe_load(GRAPH.read_text())["nodes"]["snn"]["early_exit"]
    wrong, mean_steps = _offline(root, model, early_exit)
    assert {w["sample"] for w in got["wrong_samples"]} == wrong
    assert got["mean_steps"] == pytest.approx(mean_steps)
    # data/README.md: 96-99% with the full window; Dynamic Confidence keeps it in ~40 steps
    assert got["accuracy"] >= 0.95 and got["mean_steps"] < 60, got
    live = figures["nodes"]["score"]["counters"]
    assert live["right"] == SAMPLES - len(wrong) and live["accuracy_pct"] == round(100 * got["accuracy"], 1)
    assert got["latency_ms"]["p50"] > 0 and live["latency_p50_ms"] > 0
    assert all(e["lost"] == 0 for e in figures["edges"].values())
