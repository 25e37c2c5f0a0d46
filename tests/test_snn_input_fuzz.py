"""The input reader of snn.infer, coprocessor.loihi and coprocessor.spinnaker
(nodes.snn.trials.input_bins), fuzzed directly: the coprocessor nodes need the Lava
interpreter or seconds of mapping to start. Every valid Frames or Spikes message gives
finite float32 bins of the model's input shape with device-time starts that fit in int64,
or Rejected naming the node; SpiNNaker's key kernel then takes the bins it would send."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nodes.coprocessors.spinnaker_node import MAX_COUNT
from nodes.coprocessors.spinnaker_wire import frame_keys
from nodes.snn.trials import MAX_TIME_US, input_bins
from streamer import streams
from streamer.node import Rejected
from tests.message_strategies import frames_messages, spikes_messages

SHAPES = [(32,), (2, 4, 4), (3,)]
WHO = "coprocessor.spinnaker 'chip' (model.nir)"


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(in_shape=st.sampled_from(SHAPES), data=st.data())
def test_input_bins_are_finite_bins_of_the_model_shape_or_rejected(in_shape, data):
    msg = data.draw(st.one_of(frames_messages(SHAPES), spikes_messages(SHAPES + [(int(np.prod(in_shape)),)])))
    streams.validate(msg)
    try:
        bins, starts, mismatch = input_bins(msg, in_shape, 1e-3, WHO)
    except Rejected as exc:
        assert WHO in str(exc)
        return
    assert bins.dtype == np.float32 and bins.flags.c_contiguous and bins.shape == (len(msg.data),) + in_shape
    assert np.all(np.isfinite(bins)) and isinstance(mismatch, bool) and len(starts) == len(bins)
    assert all(s is None or (isinstance(s, int) and abs(s) <= MAX_TIME_US) for s in starts)
    keymap = np.arange(int(np.prod(in_shape)), dtype=np.uint32)
    for frame in np.minimum(bins, MAX_COUNT):
        keys = frame_keys(frame, keymap)
        assert len(keys) <= MAX_COUNT * keymap.size and (not len(keys) or keys.max() < keymap.size)


@pytest.mark.parametrize("meta,why", [({"bin_us": float("inf")}, "'bin_us' must be a positive finite"),
                                      ({"t_first_us": "soon"}, "'t_first_us' must be a finite number"),
                                      ({"t_first_us": 2 ** 62}, "end beyond any device time")])
def test_timing_that_is_not_a_time_is_refused(meta, why):
    with pytest.raises(Rejected, match=why):
        input_bins(streams.Message("Frames", np.zeros((2, 3), np.float32), meta), (3,), 1e-3, WHO)


def test_values_beyond_float32_are_refused_not_fed_to_the_network():
    for data in (np.full((1, 3), np.nan, np.float32), np.full((1, 3), 1e300), np.full((1, 3), np.inf, np.float16)):
        with pytest.raises(Rejected, match="NaN or infinite"):
            input_bins(streams.frames(data, bin_us=1000.0), (3,), 1e-3, WHO)
    spikes = streams.spikes(np.ones((4, 6), ">u2"), dt_s=[1])
    with pytest.raises(Rejected, match="'dt_s' must be a positive finite"):
        input_bins(spikes, (2, 3), 1e-3, WHO)
    bins, starts, _ = input_bins(streams.spikes(np.ones((4, 6), ">u2"), step=3, dt_s=0.002), (2, 3), 1e-3, WHO)
    assert bins.shape == (4, 2, 3) and starts == [6000, 8000, 10000, 12000]
