"""tools.bench.process_cpu: the CPU time of a graph's node processes, read from /proc."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tools.bench.process_cpu import CpuSampler

pytestmark = pytest.mark.integration  # starts Python processes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_of_a_busy_and_an_idle_node_process(tmp_path):
    burn = "import time, sys\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass"
    idle = "import time\ntime.sleep(1.0)"
    procs = [subprocess.Popen([sys.executable, "-c", code, "streamer.worker", str(tmp_path / f"{name}.json")])
             for name, code in (("busy", burn), ("idle", idle))]
    sampler = CpuSampler(os.getpid())
    t0 = time.monotonic()
    while any(p.poll() is None for p in procs):
        sampler.sample()
        time.sleep(0.02)
    t1 = time.monotonic()
    cpu = sampler.between(t0, t1)
    assert set(cpu) == {"busy", "idle"}
    assert 0.3 < cpu["busy"] < 5.0  # its 0.6 s, less what it spent before the first sample
    assert cpu["idle"] < 0.3
