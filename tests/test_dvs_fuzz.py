"""Random bytes, truncations and bit flips given to the event readers: they return events
or raise EventFileError, never another exception, a crash or a hang."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from drivers.dvs import EventFileError, open_events
from streamer.streams import EVENT_DTYPE

HEADERS = [b"", b"% format EVT3;height=720;width=1280\n% end\n", b"% evt 2.0\n% geometry 640x480\n",
           b"% format EVT21;height=480;width=640\n", b"% format EVT21;endianness=legacy;height=4;width=4\n",
           b"% system_ID 21\n", b"% Data file containing Event2D events.\n% Version 2\n\x00\x08"]
SETTINGS = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_or_refuse(path):
    try:
        r = open_events(path)
        ev = r.read()
        tr = r.triggers()
    except EventFileError as exc:
        assert str(path) in str(exc) and "at byte" in str(exc)
        with pytest.raises(EventFileError):  # two threads refuse it too
            open_events(path, threads=2).read()
        return None
    # two threads (EVT 3.0 blocks cut in two) give the same events
    r2 = open_events(path, threads=2)
    assert np.array_equal(r2.read(), ev) and np.array_equal(r2.triggers(), tr) and r2.dropped == r.dropped
    assert ev.dtype == EVENT_DTYPE
    if len(ev):  # whatever came out is on the sensor
        assert ev["x"].max() < r.width and ev["y"].max() < r.height
        assert set(np.unique(ev["p"]).tolist()) <= {0, 1}
    return ev, tr


@SETTINGS
@given(header=st.sampled_from(HEADERS), body=st.binary(max_size=4000))
def test_random_bytes(tmp_path, header, body):
    path = tmp_path / "fuzz.raw"
    path.write_bytes(header + body)
    read_or_refuse(path)


@SETTINGS
@given(header=st.sampled_from(HEADERS[1:]), words=st.lists(st.integers(0, 2**64 - 1), max_size=300),
       cut=st.integers(0, 7))
def test_truncated_word_streams(tmp_path, header, words, cut):
    body = np.array(words, np.uint64).tobytes()
    path = tmp_path / "cut.raw"
    path.write_bytes(header + body[:max(0, len(body) - cut)])
    read_or_refuse(path)


@SETTINGS
@given(data=st.data())
def test_bit_flips_in_headers(tmp_path, data):
    header = bytearray(data.draw(st.sampled_from(HEADERS[1:])))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(header) - 1))
        header[i] ^= 1 << data.draw(st.integers(0, 7))
    path = tmp_path / "flip.raw"
    path.write_bytes(bytes(header) + bytes(range(64)) * 8)
    read_or_refuse(path)


EVT3_TYPES = [0x0, 0x1, 0x2, 0x2, 0x2, 0x3, 0x4, 0x5, 0x6, 0x6, 0x8, 0xA, 0xE]  # ADDR_X weighted up


@settings(max_examples=80, deadline=4000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.tuples(st.sampled_from(EVT3_TYPES), st.integers(0, 0xFFF)), min_size=1, max_size=3000),
       block=st.integers(8, 2000))
def test_evt3_two_threads_equal_one_on_word_streams(tmp_path, monkeypatch, words, block):
    """EVT 3.0 words of every type in random order (TIME_HIGH stepping back: wraps), small
    blocks each cut where the second thread can start: the same as one thread."""
    from drivers.dvs import readers

    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    path = tmp_path / "w.raw"
    path.write_bytes(HEADERS[1] + np.array([(t << 12) | c for t, c in words], "<u2").tobytes())
    read_or_refuse(path)
