"""coprocessor.spinnaker: EIEIO packets read back by spinnman, SPIF words bit by bit, a network
mapped on sPyNNaker's virtual board, and the errors before a board is used."""
from __future__ import annotations

import time

import nir
import numpy as np
import pytest

from nodes.coprocessors.spinnaker_wire import eieio_packets, frame_keys, spif_words
from streamer.streams import EVENT_DTYPE

pytestmark = pytest.mark.spinnaker

spinnman = pytest.importorskip("spinnman", reason="sPyNNaker is not installed (pip install sPyNNaker)")


def test_eieio_packets_parse_with_spinnman():
    from spinnman.messages.eieio import EIEIOType, read_eieio_data_message
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 3, size=(2, 34, 34)).astype(np.float32)
    keymap = (np.arange(frame.size, dtype=np.uint32) + 0x00A40000).astype(np.uint32)
    keys = frame_keys(frame, keymap)
    # Each pixel's key appears as often as its count.
    assert np.array_equal(np.sort(keys), np.sort(np.repeat(keymap, frame.reshape(-1).astype(int))))
    got = []
    packets = eieio_packets(keys)
    assert len(packets) == -(-len(keys) // 63)
    for pkt in packets:
        msg = read_eieio_data_message(pkt, 0)
        assert msg.eieio_header.eieio_type == EIEIOType.KEY_32_BIT
        assert msg.eieio_header.prefix is None and msg.eieio_header.payload_base is None
        while msg.is_next_element:
            got.append(msg.next_element.key)
    assert np.array_equal(np.array(got, np.uint32), keys)


def test_spif_words_bit_by_bit():
    ev = np.zeros(5, EVENT_DTYPE)
    ev["x"] = [0, 1, 639, 32767, 5]
    ev["y"] = [0, 2, 479, 32767, 9]
    ev["p"] = [0, 1, 1, 0, -1]
    w = spif_words(ev)
    assert w.dtype == np.dtype("<u4")
    for word, e in zip(w.tolist(), ev):
        assert word >> 31 == 0
        assert (word >> 16) & 0x7FFF == e["x"]
        assert (word >> 15) & 1 == (1 if e["p"] > 0 else 0)
        assert word & 0x7FFF == e["y"]
    assert w[2] == (639 << 16) | (1 << 15) | 479


def _model(tmp_path, neuron="IF"):
    w1 = np.array([[0.6, -0.2, 0.3], [0.1, 0.9, -0.4]], np.float32)
    w2 = np.array([[1.2, -0.5]], np.float32)
    if neuron == "IF":
        l1 = nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    else:
        l1 = nir.LI(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2))
    l2 = nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1))
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([3])), "fc1": nir.Affine(w1, np.array([0.05, 0.0])),
                            "l1": l1, "fc2": nir.Linear(w2), "l2": l2, "output": nir.Output(np.array([1]))},
                     edges=[("input", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "output")])
    path = tmp_path / f"{neuron}.nir"
    nir.write(str(path), g)
    return str(path)


@pytest.mark.integration
def test_virtual_board_maps_and_runs(tmp_path):
    from nodes.coprocessors.spinnaker_node import SpiNNaker
    from streamer.streams import frames
    from streamer.testing import feed
    node = SpiNNaker(model=_model(tmp_path), virtual_board=True, run_dir=str(tmp_path / "run"), map_steps=3)
    node.start()
    try:
        assert node.counters["mapped"] == 1
        cfg = (tmp_path / "run" / ".spynnaker.cfg").read_text()
        assert "virtual_board = True" in cfg and "version = 5" in cfg
        # The populations sPyNNaker built carry our normalised parameters.
        assert any("IF as a LIF" in a for a in node.approximations)
        x = np.zeros((4, 3), np.float32)
        x[0] = [1, 0, 2]
        feed(node, [frames(x, bin_us=1000)])
        assert node.counters["input_spikes"] == 3 and node.counters["eieio_packets"] == 1
    finally:
        node.stop()


def test_unsupported_neuron_refused(tmp_path):
    from nodes.coprocessors.spinnaker_node import SpiNNaker
    with pytest.raises(ValueError, match=r"'l1' is a LI"):
        SpiNNaker(model=_model(tmp_path, "LI")).start()


def test_too_large_for_board(tmp_path):
    from nodes.coprocessors import spinnaker_node as mod
    old = mod.CORES_PER_BOARD
    mod.CORES_PER_BOARD = 2  # two populations and the injector need 3 cores
    try:
        with pytest.raises(ValueError, match=r"needs 3 cores.*raise `boards`"):
            mod.SpiNNaker(model=_model(tmp_path)).start()
    finally:
        mod.CORES_PER_BOARD = old


@pytest.mark.integration
def test_unreachable_board_fails_within_timeout(tmp_path):
    from nodes.coprocessors.spinnaker_node import SpiNNaker
    node = SpiNNaker(model=_model(tmp_path), virtual_board=False, machine_address="127.0.0.1",
                     connect_timeout_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="127.0.0.1"):
        node.start()
    assert time.monotonic() - t0 < 5.0
    node.stop()
