"""lsl.out -> eeg.lsl through real liblsl, in one process, and against bare pylsl."""
import threading
import time
import uuid

import numpy as np
import pylsl
import pytest

from drivers.eeg.lsl_inlet import LSLInlet
from drivers.eeg.lsl_outlet import LSLOutlet
from streamer import streams

# LSL outlets and inlets talk over the network stack, as between machines.
pytestmark = pytest.mark.integration


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def chunks(n_chunks=10, n=25, sfreq=250.0, seed=0):
    rng = np.random.default_rng(seed)
    names, types = ["C3", "Cz", "C4", "EMG1"], ["eeg", "eeg", "eeg", "emg"]
    out, t0 = [], pylsl.local_clock()
    for k in range(n_chunks):
        times = t0 + (k * n + np.arange(n)) / sfreq
        out.append(streams.samples(rng.normal(scale=2e-5, size=(4, n)), sfreq=sfreq, ch_names=names,
                                   ch_types=types, first_sample=k * n, times=times))
    return out


def publish(outlet, messages):
    """Feed the outlet from a thread: its first push waits for the inlet to connect."""
    def go():
        outlet.start()
        for m in messages:
            outlet.receive("in", m)
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def collect(inlet, port, until, timeout=5.0):
    got, t0 = [], time.monotonic()
    while not until(got) and time.monotonic() - t0 < timeout:
        out = inlet.produce()
        if out and port in out:
            got += out[port] if isinstance(out[port], list) else [out[port]]
    return got


def test_samples_and_timestamps_round_trip_exactly():
    name = unique("rt")
    sent = chunks()
    outlet = LSLOutlet(name=name, unit="volts", timestamps="times", wait_for_consumer_s=5)
    thread = publish(outlet, sent)
    inlet = LSLInlet(name=name, clocksync=False, timeout_s=5)
    inlet.start()
    try:
        got = collect(inlet, "out", lambda g: sum(m.data.shape[1] for m in g) >= 250)
    finally:
        inlet.stop()
        thread.join(5)
        outlet.stop()
    data = np.concatenate([m.data for m in got], axis=1)
    times = np.concatenate([m.arrays["times"] for m in got])
    np.testing.assert_array_equal(data, np.concatenate([m.data for m in sent], axis=1))
    np.testing.assert_array_equal(times, np.concatenate([m.arrays["times"] for m in sent]))
    meta = got[0].meta
    assert meta["ch_names"] == ["C3", "Cz", "C4", "EMG1"] and meta["ch_types"] == ["eeg", "eeg", "eeg", "emg"]
    assert meta["sfreq"] == 250.0 and meta["t_first_s"] == times[0]
    assert [m.meta["first_sample"] for m in got] == list(np.cumsum([0] + [m.data.shape[1] for m in got])[:-1])


def test_description_in_microvolts_as_lsl_tools_expect():
    name = unique("uv")
    sent = chunks(2)
    outlet = LSLOutlet(name=name, wait_for_consumer_s=5)
    thread = publish(outlet, sent)
    # A bare pylsl consumer sees the XDF-style description and microvolt values.
    info = pylsl.resolve_byprop("name", name, 1, 5)[0]
    raw_inlet = pylsl.StreamInlet(info)
    full = raw_inlet.info(5)
    raw_inlet.open_stream(5)
    assert full.type() == "EEG" and full.source_id() == f"{name}/EEG"
    assert full.get_channel_labels() == ["C3", "Cz", "C4", "EMG1"]
    assert full.get_channel_types() == ["EEG", "EEG", "EEG", "EMG"]
    assert full.get_channel_units() == ["microvolts"] * 4
    values, _ = [], None
    t0 = time.monotonic()
    while sum(len(v) for v in values) < 50 and time.monotonic() - t0 < 5:
        x, ts = raw_inlet.pull_chunk(timeout=0.1, as_numpy=True)
        if len(ts):
            values.append(x)
    thread.join(5)
    expect = np.concatenate([m.data for m in sent], axis=1).T * 1e6
    np.testing.assert_allclose(np.concatenate(values), expect, rtol=1e-6)
    raw_inlet.close_stream()
    outlet.stop()


def test_origin_timestamps_and_volts_back_through_eeg_lsl():
    name = unique("org")
    sent = [m.with_data(m.data) for m in chunks(4)]
    for m in sent:
        m.t_origin = time.monotonic()
        m.arrays.clear()
    outlet = LSLOutlet(name=name, wait_for_consumer_s=5)
    thread = publish(outlet, sent)
    inlet = LSLInlet(name=name, timeout_s=5)
    inlet.start()
    try:
        got = collect(inlet, "out", lambda g: sum(m.data.shape[1] for m in g) >= 100)
    finally:
        inlet.stop()
        thread.join(5)
        outlet.stop()
    data = np.concatenate([m.data for m in got], axis=1)
    np.testing.assert_allclose(data, np.concatenate([m.data for m in sent], axis=1), rtol=1e-6)
    times = np.concatenate([m.arrays["times"] for m in got])
    # The newest sample of each chunk carries its t_origin; LSL spaces the others at 1/sfreq.
    ends = np.cumsum([m.data.shape[1] for m in sent]) - 1
    np.testing.assert_allclose(times[ends], [m.t_origin for m in sent], atol=1e-3)
    assert got[-1].t_origin == pytest.approx(sent[-1].t_origin, abs=1e-3)


def test_markers_and_decisions_as_strings():
    name = unique("mk")
    marks = [streams.marker("left", 0, time_s=1.0), streams.marker("right", 1, time_s=7.0)]
    outlet = LSLOutlet(name=name, wait_for_consumer_s=5)
    thread = publish(outlet, marks)
    inlet = LSLInlet(name=name, stream_type="Markers", timeout_s=5)
    inlet.start()
    try:
        got = collect(inlet, "markers", lambda g: len(g) >= 2)
    finally:
        inlet.stop()
        thread.join(5)
        outlet.stop()
    assert [m.data["label"] for m in got] == ["left", "right"]
    assert [m.data["time_s"] for m in got] == pytest.approx([m.t_origin for m in marks], abs=1e-3)

    name = unique("dec")
    dec = [streams.decision(2, "feet", [0.1, 0.2, 0.7], 0.7, 12, model="mi")]
    outlet = LSLOutlet(name=name, wait_for_consumer_s=5)
    thread = publish(outlet, dec)
    inlet = LSLInlet(name=name, timeout_s=5)
    inlet.start()
    try:
        got = collect(inlet, "markers", lambda g: len(g) >= 1)
    finally:
        inlet.stop()
        thread.join(5)
        outlet.stop()
    assert got[0].data["label"] == "feet" and got[0].data["probabilities"] == [0.1, 0.2, 0.7]
    assert got[0].data["steps"] == 12 and got[0].data["model"] == "mi"


def test_a_foreign_marker_stream_from_bare_pylsl():
    name = unique("ext")
    info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_int32, name)
    out = pylsl.StreamOutlet(info)
    inlet = LSLInlet(source_id=name, timeout_s=5)
    inlet.start()
    try:
        assert out.wait_for_consumers(5)
        out.push_sample([769], 123.5)
        got = collect(inlet, "markers", lambda g: len(g) >= 1)
    finally:
        inlet.stop()
    assert (got[0].data["label"], got[0].data["value"]) == ("769", 769.0)


def test_bad_requests_are_explained():
    with pytest.raises(ValueError, match="give the stream's name, stream_type or source_id"):
        LSLInlet()
    with pytest.raises(ConnectionError, match=r"no LSL stream with name='nope-\w+' found in 0.3 s; visible:"):
        LSLInlet(name=unique("nope"), timeout_s=0.3).start()
    outlet = LSLOutlet(name=unique("mix"))
    outlet.start()
    outlet.receive("in", chunks(1)[0])
    with pytest.raises(ValueError, match="publishes one Samples stream and received a Marker"):
        outlet.receive("in", streams.marker("x"))
    with pytest.raises(ValueError, match="needs per-sample times"):
        o = LSLOutlet(name=unique("t"), timestamps="times")
        o.start()
        m = chunks(1)[0]
        m.arrays.clear()
        o.receive("in", m)
