"""Writers read back: RAW EVT 3.0 / 2.0 with triggers and long time spans, AEDAT4 with
dv-processing; the AEDAT4 reader against dv-processing's own reading of a DVXplorer file."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.dvs import open_events, read_events
from drivers.dvs.readers import TRIGGER_DTYPE, join
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


def dense_rows(n_rows=400, seed=1):
    """Bursts along rows (what an edge crossing a row gives): one time, row and polarity,
    increasing x, with gaps; the case EVT 3.0 vectors are for."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_rows):
        x0 = int(rng.integers(0, 1200))
        xs = np.sort(rng.choice(np.arange(x0, x0 + 60), int(rng.integers(2, 40)), replace=False))
        part = np.empty(len(xs), EVENT_DTYPE)
        part["t"], part["x"], part["y"], part["p"] = 1000 + 7 * k, xs, int(rng.integers(0, 720)), k % 2
        parts.append(part)
    return join(parts, EVENT_DTYPE)


def reference_evt3(words: np.ndarray) -> list[tuple[int, int, int, int]]:
    """EVT 3.0 decoded word by word in plain Python from Prophesee's format description,
    for files that start with TIME_HIGH (as written): (t, x, y, p) per CD event."""
    out = []
    y = x_base = p_base = high = low = loops = 0
    for w in words.tolist():
        typ, c = w >> 12, w & 0xFFF
        if typ == 0x8:
            if c < high and high - c >= 2048:
                loops += 1
            if c != high:
                low = 0
            high = c
        elif typ == 0x6:
            low = c
        elif typ == 0x0:
            y = c & 0x7FF
        elif typ == 0x2:
            out.append(((loops << 24) | (high << 12) | low, c & 0x7FF, y, c >> 11))
        elif typ == 0x3:
            x_base, p_base = c & 0x7FF, c >> 11
        elif typ in (0x4, 0x5):
            nb = 12 if typ == 0x4 else 8
            out += [((loops << 24) | (high << 12) | low, x_base + k, y, p_base)
                    for k in range(nb) if c >> k & 1]
            x_base += nb
    return out


def test_evt3_writer_uses_vectors_on_row_bursts(tmp_path):
    ev = dense_rows()
    path = tmp_path / "rows.raw"
    write_raw(path, ev, 1280, 720, "EVT3")
    r = open_events(path)
    words = np.frombuffer(path.read_bytes()[r.data_offset:], "<u2")
    types = words >> 12
    assert (types == 0x4).sum() > 0.1 * len(ev)
    assert len(words) < 0.8 * len(ev)  # fewer words than one ADDR_X per event
    assert np.array_equal(r.read(), ev)
    ref = np.array(reference_evt3(words))
    assert np.array_equal(ref, np.stack([ev["t"], ev["x"], ev["y"], ev["p"]], 1))


@pytest.mark.parametrize("fmt", ["EVT3", "EVT2"])
def test_written_raw_read_by_expelliarmus(tmp_path, fmt):
    expelliarmus = pytest.importorskip("expelliarmus")
    ev = dense_rows() if fmt == "EVT3" else random_events(20_000, 640, 480, t0=1_000)
    path = tmp_path / "x.raw"
    write_raw(path, ev, 1280, 720, fmt)
    ref = expelliarmus.Wizard(encoding=fmt.lower(), fpath=str(path)).read()
    assert len(ref) == len(ev)
    assert np.array_equal(ref["x"], ev["x"]) and np.array_equal(ref["y"], ev["y"])
    if fmt == "EVT2":
        assert np.array_equal(ref["t"], ev["t"]) and np.array_equal(ref["p"], ev["p"])
    # EVT 3.0: expelliarmus counts every TIME_LOW that steps back as a time overflow and
    # gives vectors the polarity of the last ADDR_X; its t and p are not a reference here


def test_read_events_with_triggers_in_one_pass(tmp_path):
    ev = random_events(3_000, 64, 64, span=2_000_000)
    tr = triggers([5, 1_000_000], [0, 4], [1, 0])
    path = tmp_path / "tr.raw"
    write_raw(path, ev, 64, 64, "EVT3", tr)
    got_ev, got_tr = read_events(path, with_triggers=True)
    assert np.array_equal(got_ev, ev) and np.array_equal(got_tr, tr)
    assert np.array_equal(read_events(path), ev)


def test_chunks_by_duration(tmp_path):
    ev = random_events(5_000, 64, 64, t0=123, span=1_000_000)
    path = tmp_path / "d.raw"
    write_raw(path, ev, 64, 64, "EVT2")
    parts = list(open_events(path).chunks(max_events=100, duration_us=30_000))
    assert np.array_equal(np.concatenate(parts), ev)
    # every chunk lies inside one 30 ms window counted from the first event
    t0 = int(ev["t"][0])
    starts = [(int(p["t"][0]) - t0) // 30_000 for p in parts]
    assert all((int(p["t"][-1]) - t0) // 30_000 == s for p, s in zip(parts, starts))
    assert starts == sorted(set(starts))
