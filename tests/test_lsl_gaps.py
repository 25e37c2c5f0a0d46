"""eeg.lsl counts what LSL lost: samples missing from the received timestamps become
`missing_samples` in `gaps`, through real liblsl buffers that overflow; a paced stream
with jittered stamps shows none; lsl.out counts what it pushed with no one listening."""
import time
import uuid

import numpy as np
import pylsl
import pytest

from drivers.eeg.lsl_gaps import GapCounter
from drivers.eeg.lsl_inlet import LSLInlet
from drivers.eeg.lsl_outlet import LSLOutlet
from streamer import streams


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def chunk_stamps(n_chunks, n, sfreq, jitter_s, rng, drift=0.0):
    """Per-sample stamps as LSL spaces them when each chunk is stamped late by up to `jitter_s`."""
    out = []
    for k in range(n_chunks):
        last = ((k + 1) * n - 1) / sfreq * (1 + drift) + rng.uniform(0, jitter_s)
        out.append(last - (n - 1 - np.arange(n)) / sfreq)
    return np.concatenate(out)


def feed(counter, ts, step=777):
    gaps = missing = 0
    for i in range(0, len(ts), step):
        g, m = counter.update(ts[i:i + step])
        gaps, missing = gaps + g, missing + m
    g, m = counter.flush()
    return gaps + g, missing + m


@pytest.mark.parametrize("jitter_s", [0.0, 0.005, 0.02])
@pytest.mark.parametrize("drift", [0.0, 1e-4])
def test_jitter_and_drift_are_no_gaps_but_a_loss_is(jitter_s, drift):
    rng = np.random.default_rng(3)
    ts = chunk_stamps(1200, 50, 1000.0, jitter_s, rng, drift)
    assert feed(GapCounter(1000.0), ts) == (0, 0)
    lost = np.delete(ts, np.arange(25_000, 25_400))  # 400 samples, more than the jitter spans
    gaps, missing = feed(GapCounter(1000.0), lost)
    assert gaps >= 1 and abs(missing - 400) <= jitter_s * 1000 + 1


def test_exact_stamps_count_every_lost_sample():
    ts = np.arange(100_000) / 500.0
    lost = np.delete(ts, np.r_[1000:1001, 30_000:30_250, 99_000:99_010])
    assert feed(GapCounter(500.0), lost) == (3, 261)


def _samples(k, n, sfreq, block, names, t_origin):
    return streams.samples(block, sfreq=sfreq, ch_names=names, first_sample=k * n, t_origin=t_origin)


def test_overflowing_lsl_buffers_lose_nothing_in_silence():
    """Five seconds of data pushed at once into one-second buffers: LSL drops the oldest;
    every sample sent is either received or counted missing."""
    sfreq, n, chunks = 1000.0, 50, 120
    names = [f"E{i}" for i in range(8)]
    block = np.zeros((8, n), np.float32)
    name = unique("gaps")
    outlet = LSLOutlet(name=name, unit="volts", max_buffered_s=1)
    outlet.start()
    t0 = time.monotonic()
    stamp = lambda k: t0 + ((k + 1) * n - 1) / sfreq  # noqa: E731 - the nominal timeline
    outlet.receive("in", _samples(0, n, sfreq, block, names, stamp(0)))
    inlet = LSLInlet(name=name, clocksync=False, timeout_s=5, max_buffered_s=1)
    inlet.start()
    try:
        assert outlet.outlet.wait_for_consumers(5)
        outlet.receive("in", _samples(1, n, sfreq, block, names, stamp(1)))
        got = 0
        deadline = time.monotonic() + 10
        while got == 0 and time.monotonic() < deadline:  # the first samples, before the flood
            out = inlet.produce()
            got += out["out"].items if out else 0
        for k in range(2, chunks):
            outlet.receive("in", _samples(k, n, sfreq, block, names, stamp(k)))
        last = time.monotonic()
        while time.monotonic() - last < 2.0:
            out = inlet.produce()
            if out:
                got += out["out"].items
                last = time.monotonic()
    finally:
        inlet.stop()
        outlet.stop()
    sent = chunks * n - n  # the first chunk went out before the inlet connected
    assert outlet.counters["without_consumer"] == n
    assert got < sent, "the buffers did not overflow: nothing to count"
    assert got + inlet.counters["missing_samples"] == sent
    assert inlet.counters["gaps"] >= 1


def test_a_paced_stream_stamped_on_sending_shows_no_gap():
    """lsl.out's default stamps (the acquisition time of each chunk's newest sample, here the
    time it was sent) jitter with the scheduler: that is not a loss."""
    sfreq, n = 250.0, 10
    names = ["C3", "C4"]
    block = np.zeros((2, n), np.float32)
    name = unique("paced")
    outlet = LSLOutlet(name=name, unit="volts", wait_for_consumer_s=5)
    outlet.start()
    inlet = LSLInlet(name=name, clocksync=False, timeout_s=5)
    got = 0
    try:
        import threading
        done = threading.Event()

        def push():
            t0 = time.monotonic()
            for k in range(100):  # 4 s
                time.sleep(max(0.0, t0 + (k + 1) * n / sfreq - time.monotonic()))
                outlet.receive("in", _samples(k, n, sfreq, block, names, time.monotonic()))
            done.set()

        thread = threading.Thread(target=push, daemon=True)
        thread.start()
        inlet.start()
        deadline = time.monotonic() + 30
        while got < 1000 and time.monotonic() < deadline:
            out = inlet.produce()
            got += out["out"].items if out else 0
        thread.join(10)
    finally:
        inlet.stop()
        outlet.stop()
    assert got == 1000
    assert inlet.counters["gaps"] == 0 and inlet.counters["missing_samples"] == 0
    assert outlet.counters["without_consumer"] == 0
