"""The inbox takes only what belongs to the stream: the wire format, the sequence (this
run's epoch, no number twice, no implausible jump) and the stream type's shape. Whatever
fails is refused and counted with its reason; nothing raises, nothing counts as loss."""
from __future__ import annotations

import numpy as np
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer import streams, wire
from streamer.transport import MAX_GAP, Inbox

EPOCH = 1234
KEY = "a.out>b.in"


@pytest.fixture
def inbox():
    ctx = zmq.Context()
    box = Inbox(ctx, ["inproc://b"], [{"key": KEY, "dst_port": "in", "policy": "lossless"}], EPOCH)
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://b")
    yield box, push
    push.close(0)
    box.close()
    ctx.term()


def deliver(box: Inbox, push, *messages) -> list:
    for frames in messages:
        push.send_multipart(frames)
    got = []
    while box.poll(50):
        got += box.drain()
    return got


def ok(seq: int, value: int = 0, epoch: int = EPOCH) -> list:
    return wire.encode(streams.command("go", value), seq, epoch, KEY.encode())


def test_a_spoofed_sequence_number_is_refused_not_counted_as_loss(inbox):
    box, push = inbox
    got = deliver(box, push, ok(0), ok(1_000_000_004), ok(1), ok(2))
    e = box.by_key[KEY].stats()
    assert [m.data["value"] for _, m in got] == [0, 0, 0] and e["lost"] == 0 and e["received"] == 3
    assert box.rejected == 1 and "jumps" in box.last_error


def test_replayed_numbers_and_other_runs_are_refused(inbox):
    box, push = inbox
    got = deliver(box, push, ok(0, 1), ok(1, 2), ok(1, 99), ok(0, 99), ok(2, 99, epoch=EPOCH + 1), ok(2, 3))
    assert [m.data["value"] for _, m in got] == [1, 2, 3]
    assert box.rejected == 3 and box.by_key[KEY].stats()["lost"] == 0


def test_a_real_gap_is_loss_and_an_end_of_stream_after_it_too(inbox):
    box, push = inbox
    deliver(box, push, ok(0), ok(5), wire.end_of_stream(9, EPOCH, KEY.encode()))
    e = box.by_key[KEY].stats()
    assert e["lost"] == 4 + 3 and e["received"] == 2 and e["ended"] == 1 and e["next_seq"] == 9
    assert MAX_GAP >= 1 << 12  # room for what a killed peer held in its queues


def test_messages_that_do_not_fit_their_stream_are_refused(inbox):
    """A Command whose item is a list crashed the gate; Events of float64 crashed
    events.denoise; a huge shape over an empty buffer raised from decode."""
    box, push = inbox
    topic = KEY.encode()
    listed = [topic, wire.pack({"v": 1, "s": "Command", "q": 0, "e": EPOCH, "o": 1.0, "m": {}, "a": [],
                                "d": [1, 2]})]
    floats = wire.encode(streams.Message("Events", np.zeros(4), {"width": 8, "height": 8}, 1.0), 1, EPOCH, topic)
    huge = [topic, wire.pack({"v": 1, "s": "Frames", "q": 2, "e": EPOCH, "o": 1.0, "m": {},
                              "a": [["", "<f4", [2**40, 2**40]]]}), b""]
    zero = [topic, wire.pack({"v": 1, "s": "Frames", "q": 3, "e": EPOCH, "o": 1.0, "m": {},
                              "a": [["", "|V0", [2**40, 0]]]}), b""]
    got = deliver(box, push, listed, floats, huge, zero, ok(4, 7))
    assert [m.data["value"] for _, m in got] == [7]
    assert box.rejected == 4
    e = box.by_key[KEY].stats()
    # the two that were well numbered but malformed count on the edge as rejected
    assert e["rejected"] == 2 and e["lost"] == 2 and e["received"] == 1


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=5))
def test_decode_raises_nothing_but_wire_errors(frames):
    try:
        wire.decode(frames)
    except wire.WireError:
        pass


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from(["v", "s", "q", "e", "o", "m", "a", "d", "x"]),
                       st.one_of(st.integers(-2**70, 2**70), st.floats(), st.text(max_size=5), st.none(),
                                 st.lists(st.one_of(st.integers(-5, 2**41), st.text(max_size=3)), max_size=4),
                                 st.lists(st.lists(st.one_of(st.text(max_size=4), st.integers(-1, 2**41),
                                                             st.lists(st.integers(-1, 2**41), max_size=3)),
                                                   max_size=3), max_size=2)),
                       max_size=9),
       st.lists(st.binary(max_size=32), max_size=3))
def test_crafted_headers_are_wire_errors(header, buffers):
    try:
        _, _, msg = wire.decode([b"t", msgpack_or_garbage(header), *buffers])
    except wire.WireError:
        return
    if msg is not None:
        try:
            streams.validate(msg)
        except streams.InvalidMessage:
            pass


def msgpack_or_garbage(header: dict) -> bytes:
    try:
        return wire.pack(header)
    except (OverflowError, TypeError, ValueError):
        return b"\xc1"
