"""Wire format: every stream type round-trips; malformed messages are rejected."""
import math

import msgpack
import numpy as np
import pytest
import zmq

from streamer import streams, wire


def roundtrip(msg, seq=5, epoch=9):
    frames = wire.encode(msg, seq, epoch, b"a.out>b.in")
    # What a receiver gets: bytes-like frames, as with copy=False.
    return wire.decode([bytes(f) if not isinstance(f, bytes) else f for f in frames])


def test_every_stream_type_round_trips():
    ev = np.zeros(7, streams.EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = np.arange(7), 3, [0, 1] * 3 + [1], np.arange(7) * 10 + 2**40
    msgs = [
        streams.events(ev, width=640, height=480),
        streams.samples(np.random.default_rng(0).normal(size=(4, 33)), sfreq=250.0, ch_names=list("abcd"),
                        ch_types=["eeg", "seeg", "ecog", "stim"], times=np.arange(33) / 250.0),
        streams.frames(np.ones((3, 2, 34, 34), np.float32), bin_us=1000, t_first_us=5),
        streams.spikes(np.eye(4, dtype=np.uint8), layer="out", step=3),
        streams.decision(2, "left", [0.1, 0.2, 0.7], 0.7, 31, model="m.nir"),
        streams.marker("T1", 1, time_s=12.5),
        streams.command("stop", None, safety="passed"),
    ]
    for msg in msgs:
        topic, header, got = roundtrip(msg)
        assert topic == "a.out>b.in" and header["q"] == 5 and header["e"] == 9
        assert got.stream == msg.stream and got.seq == 5
        assert got.t_origin == msg.t_origin
        assert got.meta == msg.meta
        if isinstance(msg.data, np.ndarray):
            assert got.data.dtype == msg.data.dtype and got.data.shape == msg.data.shape
            assert got.data.tobytes() == msg.data.tobytes()
        else:
            assert got.data == msg.data
        for k, v in msg.arrays.items():
            np.testing.assert_array_equal(got.arrays[k], v)


@pytest.mark.integration
def test_arrays_travel_without_copies():
    ctx = zmq.Context.instance()
    pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(f"tcp://127.0.0.1:{port}")
    big = np.arange(1 << 18, dtype=np.float32)[None, :]
    push.send_multipart(wire.encode(streams.samples(big, sfreq=1.0, ch_names=["a"]), 0, 0, b"t"), copy=False)
    frames = pull.recv_multipart(copy=False)
    _, _, msg = wire.decode(frames)
    # The array is a view of the received frame's buffer, not a copy of it.
    assert np.shares_memory(msg.data, np.frombuffer(frames[2].buffer, np.uint8))
    assert not msg.data.flags.writeable
    np.testing.assert_array_equal(msg.data, big)
    pull.close(), push.close()


def test_small_messages_at_odd_offsets_arrive_aligned():
    # ZeroMQ hands out small messages as slices of one receive buffer, at any offset.
    ev = np.zeros(5, streams.EVENT_DTYPE)
    ev["x"], ev["t"] = np.arange(5), np.arange(5) * 7 + 2**33
    frames = wire.encode(streams.events(ev, width=8, height=8), 0, 0, b"t")
    raw = bytearray(1) + bytes(frames[2])
    odd = memoryview(raw)[1:]
    assert not np.frombuffer(odd, streams.EVENT_DTYPE)["t"].flags.aligned
    _, _, msg = wire.decode([frames[0], bytes(frames[1]), odd])
    assert all(msg.data[f].flags.aligned for f in "xypt") and not msg.data.flags.writeable
    np.testing.assert_array_equal(msg.data, ev)


def test_end_of_stream_mark():
    topic, header, msg = wire.decode(wire.end_of_stream(12, 3, b"x.out>y.in"))
    assert msg is None and header["q"] == 12


def good_frames():
    return [bytes(f) for f in wire.encode(streams.samples(np.ones((2, 5)), sfreq=1.0, ch_names=["a", "b"]),
                                          0, 0, b"t")]


@pytest.mark.parametrize("mutate, expected", [
    (lambda f: f[:1], "at least 2 frames"),
    (lambda f: [f[0], b"\xc1garbage", *f[2:]], "not msgpack"),
    (lambda f: [f[0], msgpack.packb([1, 2]), *f[2:]], "version"),
    (lambda f: [f[0], f[1], f[2][:-4]], "bytes for shape"),
    (lambda f: [f[0], f[1]], "announces 1 buffers"),
    (lambda f: [b"\xff\xfe", *f[1:]], "UTF-8"),
])
def test_malformed_messages_are_wire_errors(mutate, expected):
    with pytest.raises(wire.WireError, match=expected):
        wire.decode(mutate(good_frames()))


def _header(**changes):
    h = msgpack.unpackb(good_frames()[1])
    h.update(changes)
    return msgpack.packb(h)


@pytest.mark.parametrize("changes, expected", [
    ({"s": "Pickle"}, "unknown stream type"),
    ({"a": [["", "|O", [2, 5]]]}, "objects"),
    ({"a": [["", "<f4", [2, -5]]]}, "bad array description"),
    ({"a": [["", "not a dtype", [2, 5]]]}, "bad dtype"),
    ({"q": "zero"}, "sequence number"),
    ({"o": "now"}, "t_origin"),
])
def test_bad_headers_are_wire_errors(changes, expected):
    f = good_frames()
    with pytest.raises(wire.WireError, match=expected):
        wire.decode([f[0], _header(**changes), *f[2:]])


def test_object_arrays_are_refused_at_send():
    msg = streams.Message(streams.FRAMES, np.array([object()] * 2), {}, math.nan)
    with pytest.raises(TypeError, match="objects"):
        wire.encode(msg, 0, 0, b"t")
