"""Valid but unacceptable messages reaching real node processes: each is counted as
rejected with its reason in the run's figures, the node goes on, and the good messages
around it come out as they would without it."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from streamer import recording
from tests.runtime_helpers import run, write_graph

pytestmark = pytest.mark.integration


def test_refused_messages_are_counted_and_the_rest_gets_through(tmp_path):
    rec = tmp_path / "out.rec"
    g = write_graph(tmp_path, f"""
name: hostile-inputs
nodes:
  cam: {{type: "tests.runtime_nodes:HostileEvents", chunks: 20, every: 4}}
  denoise: {{type: events.denoise, window_us: 1000}}
  amp: {{type: "tests.runtime_nodes:ShiftingSamples", chunks: 20, every: 5}}
  resample: {{type: signal.resample, up: 2, down: 1}}
  rec: {{type: record, path: {rec}}}
edges:
  - cam -> denoise
  - denoise -> rec.events
  - amp -> resample
  - resample -> rec.samples
""")
    code, figures, err = run(g)
    assert code == 0, err
    assert figures["clean"] is True, err
    nodes = figures["nodes"]
    assert nodes["denoise"]["state"] == nodes["resample"]["state"] == "finished"

    # events beyond the 8 x 8 sensor: refused by denoise, which names itself and the event
    den = nodes["denoise"]
    assert den["rejected"] == 5 and den["in_msgs"] == 20 and den["out_msgs"] == 15
    assert "denoise: event at x=8, y=2 outside the 8x8 sensor" in den["last_rejection"]
    out = recording.read(rec, keep_messages=True)
    assert [m.meta["chunk"] for m in out["events"].messages] == [k for k in range(20) if k % 4 != 3]

    # a third channel appearing: refused by the resampler, which serves one stream
    res = nodes["resample"]
    assert res["rejected"] == 4 and res["in_msgs"] == 20
    assert "signal.resample: the stream changed from 2 channels at 100.0 Hz to 3" in res["last_rejection"]
    good = np.tile(np.arange(160, dtype=np.float64), (2, 1))  # the 16 two-channel chunks, in order
    np.testing.assert_allclose(out["samples"].data, scipy.signal.resample_poly(good, 2, 1, axis=1), atol=1e-3)
