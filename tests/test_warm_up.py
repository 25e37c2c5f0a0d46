"""Nodes compile their kernels in warm_up, before the graph starts: live data, read-only
and of any chunk size as it comes off the wire, must not make Numba compile again (that
would stall the first trials of a cold start by hundreds of milliseconds)."""
import json
import subprocess
import sys

import pytest

from tests.runtime_helpers import ROOT

pytestmark = pytest.mark.integration

# Runs in a fresh interpreter: kernels compiled by other tests would hide a miss.
SCRIPT = r"""
import json, sys
import numpy as np
from numba.core.registry import CPUDispatcher
from streamer import registry, streams, wire

def kernels(node):
    package = type(node).__module__.rsplit(".", 1)[0]  # its kernels live anywhere in its package
    mods = [m for name, m in list(sys.modules.items()) if name.startswith(package + ".") and m]
    return {f"{m.__name__}.{k}": v for m in mods for k, v in vars(m).items() if isinstance(v, CPUDispatcher)}

def off_the_wire(msg):
    return wire.decode([bytes(f) for f in wire.encode(msg, 0, 0, b"t")])[2]

def signatures(node):
    return {k: len(d.signatures) for k, d in kernels(node).items()}

PARAMS = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
report = {}
for kind, params in PARAMS.items():
    node = registry.get(kind)(**params)
    node.name = "n"
    node.start()
    node.warm_up()
    before = signatures(node)
    t = 0
    for n in (0, 1, 2, 37, 1, 0, 500):
        if kind == "snn.infer":
            frame = (rng.random((1, 2, 32, 32)) < 0.05 * (n > 0)).astype(np.float32)
            node.receive("in", off_the_wire(streams.frames(frame, bin_us=10000, t_first_us=t)))
            t += 10000
            continue
        ev = np.zeros(n, streams.EVENT_DTYPE)
        ev["x"], ev["y"] = rng.integers(0, 32, n), rng.integers(0, 32, n)
        ev["p"], ev["t"] = rng.integers(0, 2, n), t + np.sort(rng.integers(0, 10000, n))
        t += 10000
        node.receive("in", off_the_wire(streams.events(ev, width=32, height=32, t_end_us=t)))
    after = signatures(node)
    report[kind] = {"kernels": sorted(before), "new": {k: after[k] - before[k] for k in after if after[k] != before[k]}}
print(json.dumps(report))
"""

PARAMS = {
    "events.denoise": {"window_us": 5000},
    "events.refractory": {"refractory_us": 1000},
    "events.hotpixels": {"pixels": [[3, 4]], "learn_ms": 5},
    "events.roi": {"x0": 2, "y0": 2, "x1": 20, "y1": 20},
    "events.polarity": {"keep": "on"},
    "events.downsample": {"factor": 2, "accumulate": 2},
    "events.flip": {"flip_x": True, "rotate": 90},
    "events.ratelimit": {"max_events_per_s": 2000},
    "events.bin": {"bin_us": 10000, "shape": [2, 32, 32]},
    "snn.infer": {"model": "models/shapes.nir", "dt_s": 0.01, "mode": "continuous"},
}


def test_live_data_compiles_nothing_after_warm_up():
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(PARAMS)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    for kind, r in report.items():
        assert r["kernels"], f"{kind}: no Numba kernels found"
        assert not r["new"], f"{kind} compiled on live data: {r['new']}"
