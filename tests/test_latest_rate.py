"""A rate-limited `latest` edge (the console's views of array streams): what comes sooner
than its interval is dropped before it is encoded, and counted, so that sent = on the wire
+ dropped still holds."""
from __future__ import annotations

import time

import numpy as np
import zmq

from streamer import streams
from streamer.transport import Outbox


def test_a_latest_edge_sends_no_faster_than_its_rate_and_counts_the_rest():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://viewer")
    out = Outbox(ctx, [{"key": "cam.out>viewer.cam", "src_port": "out", "policy": "latest",
                        "max_rate_hz": 20.0, "endpoint": "inproc://viewer"}], epoch=1)
    try:
        t0 = time.monotonic()
        for i in range(100):
            out.send("out", streams.Message(streams.FRAMES, np.full((1, 4), i, np.float32), {}, streams.now()),
                     lambda: False)
            got = pull.poll(0)
            while got:
                pull.recv_multipart()
                got = pull.poll(0)
            time.sleep(0.005)
        elapsed = time.monotonic() - t0
        c = out.edges[0].stats()
        assert c["seq"] + c["dropped"] == 100
        assert 1 <= c["seq"] <= elapsed * 20 + 1, (c, elapsed)
        assert c["dropped"] >= 100 - (elapsed * 20 + 1)
    finally:
        out.close(0)
        pull.close()
        ctx.term()
