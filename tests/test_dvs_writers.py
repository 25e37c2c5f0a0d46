"""Writers read back: RAW EVT 3.0 / 2.0 with triggers and long time spans, AEDAT4 with
dv-processing; the AEDAT4 reader against dv-processing's own reading of a DVXplorer file."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.dvs import open_events, read_events
from drivers.dvs.readers import TRIGGER_DTYPE
from drivers.dvs.writers import write_aedat4, write_raw
from streamer.streams import EVENT_DTYPE
from tests.conftest import need


def random_events(n, width, height, seed=0, t0=0, span=50_000_000):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(t0, t0 + span, n))
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def triggers(ts, ids, ps):
    tr = np.empty(len(ts), TRIGGER_DTYPE)
    tr["t"], tr["id"], tr["p"] = ts, ids, ps
    return tr


@pytest.mark.parametrize("fmt, t0", [("EVT3", 0), ("EVT3", 913_000_000), ("EVT2", 5_000)])
def test_raw_round_trip(tmp_path, fmt, t0):
    # 50 s spans three wraps of EVT 3.0's 24-bit time base; t0 far beyond 2**24 too
    ev = random_events(20_000, 1280, 720, t0=t0)
    tr = triggers([t0 + 10, t0 + 30_000_000], [1, 3], [1, 0])
    path = tmp_path / "out.raw"
    write_raw(path, ev, 1280, 720, fmt, tr, serial_number="0042")
    r = open_events(path)
    assert (r.format, r.width, r.height) == (fmt, 1280, 720)
    assert np.array_equal(r.read(), ev)
    assert np.array_equal(r.triggers(), tr)
    head = path.read_bytes()[:300].decode("latin-1")
    assert f"% format {fmt};height=720;width=1280" in head and "% geometry 1280x720" in head
    assert "% serial_number 0042" in head and "% end" in head


def test_raw_writer_refuses_what_it_cannot_encode(tmp_path):
    ev = random_events(10, 64, 64)
    with pytest.raises(ValueError, match="outside the 32x32"):
        write_raw(tmp_path / "a.raw", ev, 32, 32)
    with pytest.raises(ValueError, match="sorted"):
        write_raw(tmp_path / "a.raw", ev[::-1].copy(), 64, 64)
    late = random_events(10, 64, 64, t0=1 << 34)
    with pytest.raises(ValueError, match="34 bits"):
        write_raw(tmp_path / "a.raw", late, 64, 64, "EVT2")


def test_aedat4_round_trip_with_triggers(tmp_path):
    import dv_processing as dv
    ev = random_events(5_000, 346, 260, t0=1_000_000, span=2_000_000)
    rising = int(dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE)
    falling = int(dv.TriggerType.EXTERNAL_SIGNAL_FALLING_EDGE)
    tr = triggers([1_500_000, 2_000_000], [rising, falling], [1, 0])
    path = tmp_path / "out.aedat4"
    write_aedat4(path, ev, 346, 260, tr)
    r = open_events(path)
    assert (r.format, r.width, r.height) == ("AEDAT4", 346, 260)
    assert np.array_equal(r.read(), ev)
    assert np.array_equal(r.triggers(), tr)


def test_aedat4_reader_agrees_with_dv_processing(shared_data):
    import dv_processing as dv
    path = need(shared_data / "events" / "dvxplorer.aedat4")
    r = open_events(path)
    assert (r.width, r.height) == (320, 240)
    ev = r.read()
    assert len(ev) == 111_954
    rec = dv.io.MonoCameraRecording(str(path))
    t0, t1 = rec.getTimeRange()
    ref = rec.getEventsTimeRange(t0, t1 + 1).numpy()
    assert np.array_equal(ev["t"], ref["timestamp"])
    assert np.array_equal(ev["x"], ref["x"]) and np.array_equal(ev["y"], ref["y"])
    assert np.array_equal(ev["p"], ref["polarity"])
    assert len(r.triggers()) == 0  # the recording's trigger stream is empty


def test_aedat4_truncated_is_a_clear_error(shared_data, tmp_path):
    from drivers.dvs import EventFileError
    src = need(shared_data / "events" / "dvxplorer.aedat4").read_bytes()
    path = tmp_path / "cut.aedat4"
    path.write_bytes(src[:64])
    with pytest.raises(EventFileError, match="cut.aedat4"):
        read_events(path)
