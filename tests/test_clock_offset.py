"""Clock alignment between hosts: the offset and drift estimated from round trips, and
`now()` put on the controller's clock."""
from __future__ import annotations

import random
import time

import pytest

from streamer import streams
from streamer.cluster import ClockEstimate


def test_offset_and_drift_from_round_trips_with_queueing_delays():
    rng = random.Random(1)
    offset_s, drift = 5_000.0, 20e-6   # another machine's monotonic clock: booted earlier, running fast
    clock = ClockEstimate()
    t = 100.0
    for _ in range(240):              # a minute of round trips every 0.25 s
        out = 0.0002 + rng.expovariate(1 / 0.002)  # each way: a floor and queueing, not symmetric
        back = 0.0002 + rng.expovariate(1 / 0.002)
        t_agent = t + out + offset_s + drift * (t + out - 100.0)
        clock.add(t, t_agent, t + out + back)
        t += 0.25
    f = clock.figures()
    mid_offset = offset_s + drift * 30.0  # the offset halfway through the window
    assert f["offset_ms"] == pytest.approx(mid_offset * 1e3, abs=1.0)  # within 1 ms of 5,000 s
    assert f["drift_ppm"] == pytest.approx(20.0, abs=10.0)
    assert f["round_trips"] == 240 and f["rtt_min_ms"] < f["rtt_ms"]


def test_no_round_trip_yet_says_so():
    assert ClockEstimate().figures() == {"offset_ms": None, "rtt_ms": None, "drift_ppm": None, "round_trips": 0}


def test_now_on_the_controllers_clock():
    try:
        streams.set_clock_offset(1000.0)  # this host is 1000 s ahead of the controller
        assert streams.now() == pytest.approx(time.monotonic() - 1000.0, abs=0.01)
    finally:
        streams.set_clock_offset(0.0)
    assert streams.now() == pytest.approx(time.monotonic(), abs=0.01)
