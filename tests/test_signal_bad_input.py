"""Signal nodes under streams that change or lie: a refused chunk is Rejected naming the
node, a stream that changes layout or numbering starts the node's work again."""
from __future__ import annotations

import numpy as np
import pytest

from nodes.signal.channels import Pick, Reref
from nodes.signal.encode import Encode
from nodes.signal.filter import Filter
from nodes.signal.windows import Epochs, Window
from streamer import streams
from streamer.node import Rejected
from streamer.streams import Message, SAMPLES
from streamer.testing import feed


def chunk(n_ch: int, n: int, first: int, sfreq: float = 100.0, **meta) -> Message:
    x = np.random.default_rng(first % 1000).normal(size=(n_ch, n)).astype(np.float32)
    return streams.samples(x, sfreq=sfreq, ch_names=[f"C{i}" for i in range(n_ch)], first_sample=first, **meta)


def started(node):
    node.start()
    return node


def test_encode_counts_steps_again_when_first_sample_goes_back_or_jumps():
    # first_sample going back used to index the step counts below zero inside the kernel
    node = started(Encode(threshold=0.5, step_ms=100))
    out = feed(node, [chunk(2, 50, 0), chunk(2, 50, 50), chunk(2, 50, 20), chunk(2, 50, 10 ** 12)])["out"]
    assert node.counters["time_jumps"] == 2
    assert [m.meta["t_first_us"] for m in out] == [0, 500_000, 200_000, 10 ** 16]
    assert all(m.data.shape[1] == 4 for m in out)


def test_encode_refuses_values_that_would_make_millions_of_spikes():
    node = started(Encode(threshold=1e-6))
    huge = streams.samples(np.full((1, 3), 1e30, np.float32), sfreq=100.0, ch_names=["a"], first_sample=0)
    with pytest.raises(Rejected, match="signal.encode: .*delta spikes"):
        node.receive("in", huge)


def test_a_window_starts_again_when_the_channels_change():
    node = started(Window(window_ms=100, step_ms=100))
    out = feed(node, [chunk(2, 10, 0), chunk(3, 10, 10), chunk(3, 10, 20)])["out"]
    assert [m.data.shape for m in out] == [(1, 2, 10), (1, 3, 10), (1, 3, 10)]
    assert node.counters["restarted"] == 1


def test_epochs_refuse_a_marker_that_says_nowhere_and_restart_after_a_gap():
    node = started(Epochs(tmin_s=0.0, tmax_s=0.1))
    with pytest.raises(Rejected, match="signal.epochs: marker 'T1' has neither"):
        node.receive("markers", streams.marker("T1"))
    feed(node, [chunk(1, 50, 0), chunk(1, 50, 500)], finish=False)
    assert node.counters["restarted"] == 1 and node.buf_start == 500
    out = feed(node, [("markers", streams.marker("T1", sample=520)), chunk(1, 50, 550)], finish=False)["out"]
    assert out[0].meta["first_sample"] == 520 and out[0].data.shape == (1, 1, 10)


def test_optional_channel_types_and_units_may_be_absent():
    msg = Message(SAMPLES, np.ones((3, 4), np.float32), {"sfreq": 100.0, "ch_names": ["LA1", "LA2", "C3"]})
    picked = started(Pick(names=["C3", "LA1"])).receive("in", msg)
    assert picked.meta["ch_names"] == ["C3", "LA1"] and "ch_types" not in picked.meta
    streams.validate(picked)
    out = started(Reref(method="bipolar", pairs=[["LA1", "LA2"]])).receive("in", msg)
    assert out.meta["ch_names"] == ["LA1-LA2"] and "units" not in out.meta
    streams.validate(out)


def test_a_filter_the_stream_rate_does_not_allow_is_refused_and_the_old_one_kept():
    node = started(Filter(l_freq_hz=1.0, h_freq_hz=40.0))
    a = node.receive("in", chunk(1, 20, 0, sfreq=250.0))
    with pytest.raises(Rejected, match=r"signal.filter: no bandpass filter at the stream's 50 Hz"):
        node.receive("in", chunk(1, 20, 20, sfreq=50.0))
    fresh = started(Filter(l_freq_hz=1.0, h_freq_hz=40.0))
    fresh.receive("in", chunk(1, 20, 0, sfreq=250.0))
    b = node.receive("in", chunk(1, 20, 20, sfreq=250.0))
    assert np.array_equal(b.data, fresh.receive("in", chunk(1, 20, 20, sfreq=250.0)).data)
    assert a is not None and node.counters["restarted"] == 0
