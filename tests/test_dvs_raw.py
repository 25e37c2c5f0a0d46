"""Prophesee RAW and DAT readers: the shared recordings against the counts in
data/README.md (OpenEB's decoding), and hand-built EVT 3.0 / 2.0 / 2.1 words (time wraps,
vectors, triggers, both EVT 2.1 layouts) against values worked out from the formats."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from drivers.dvs import EventFileError, open_events, read_events
from drivers.dvs import readers
from tests.conftest import need

EXPECTED = {  # data/README.md
    "gen3_evt2.raw": ("EVT2", 640, 480, 521_252, 128_979_953, 216_346_680, 185_861),
    "gen41_evt3.raw": ("EVT3", 1280, 720, 219_596, 159_113_225, 85_638_051, 115_532),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_raw_recordings_match_openeb(shared_data, name):
    fmt, w, h, n, sx, sy, on = EXPECTED[name]
    r = open_events(need(shared_data / "events" / name))
    assert (r.format, r.width, r.height) == (fmt, w, h)
    ev = r.read()
    assert len(ev) == n
    assert int(ev["x"].sum(dtype=np.int64)) == sx
    assert int(ev["y"].sum(dtype=np.int64)) == sy
    assert int((ev["p"] == 1).sum()) == on
    assert np.all(np.diff(ev["t"]) >= 0)


def test_evt3_time_low_stepping_back_is_not_a_wrap(shared_data):
    ev = read_events(need(shared_data / "events" / "gen41_evt3.raw"))
    assert (ev["t"][0], ev["t"][-1]) == (11_718_656, 11_727_457)  # README span, no +4096 µs


def test_gen3_span(shared_data):
    ev = read_events(need(shared_data / "events" / "gen3_evt2.raw"))
    assert 913_716_000 <= ev["t"][0] and ev["t"][-1] < 913_813_000


def test_dat_recording(shared_data):
    r = open_events(need(shared_data / "events" / "ncars_td.dat"))
    ev = r.read()
    assert r.format == "DAT" and len(ev) == 2009
    assert (ev["t"][0], ev["t"][-1]) == (0, 99_952)
    # independent reference: the layout read with plain NumPy
    raw = (shared_data / "events" / "ncars_td.dat").read_bytes()
    body = np.frombuffer(raw[r.data_offset:], "<u4").reshape(-1, 2)
    assert np.array_equal(ev["t"], body[:, 0])
    assert np.array_equal(ev["x"], body[:, 1] & 0x3FFF)
    assert np.array_equal(ev["y"], (body[:, 1] >> 14) & 0x3FFF)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_chunking_does_not_change_events(shared_data, name, monkeypatch):
    path = need(shared_data / "events" / name)
    whole = read_events(path)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 4099)  # odd: words and vectors split across blocks
    parts = list(open_events(path).chunks(max_events=777))
    assert all(len(p) <= 777 for p in parts)
    assert np.array_equal(readers.join(parts, whole.dtype), whole)


def test_wrong_extension_is_read_by_content(shared_data, tmp_path):
    src = need(shared_data / "events" / "gen3_evt2.raw")
    dst = tmp_path / "looks_like.dat"
    shutil.copy(src, dst)
    r = open_events(dst)
    assert r.format == "EVT2" and len(r.read()) == EXPECTED["gen3_evt2.raw"][3]


# --- hand-built words: recordings we do not have -------------------------------------

def write(tmp_path, header: str, words, dtype, name="x.raw"):
    path = tmp_path / name
    path.write_bytes(header.encode() + np.asarray(words, dtype).tobytes())
    return path


def evt3_word(typ, content):
    return (typ << 12) | content


def test_evt3_words(tmp_path):
    W = [
        evt3_word(0x2, 5),                  # before any TIME_HIGH: skipped
        evt3_word(0x8, 0xFFE),              # TIME_HIGH 4094
        evt3_word(0x0, 3),                  # y = 3
        evt3_word(0x6, 0x010),              # TIME_LOW 16
        evt3_word(0x2, (1 << 11) | 7),      # ON at x=7 -> t = 4094*4096 + 16
        evt3_word(0x3, 20),                 # vector base x = 20, OFF
        evt3_word(0x4, 0b1000_0000_0101),   # x = 20, 22, 31
        evt3_word(0x5, 0b0000_0011),        # base now 32: x = 32, 33
        evt3_word(0xA, (2 << 8) | 1),       # trigger id 2, rising
        evt3_word(0x6, 0x008),              # TIME_LOW back to 8 under the same TIME_HIGH
        evt3_word(0x2, 1),                  # OFF at x=1, t = 4094*4096 + 8 (no wrap)
        evt3_word(0xE, 0x014), evt3_word(0x7, 0), evt3_word(0xF, 0),  # system words: skipped
        evt3_word(0x8, 0x002),              # TIME_HIGH 2 after 4094: the 24-bit base wrapped
        evt3_word(0x6, 0x001),
        evt3_word(0x2, (1 << 11) | 40),     # x=40 -> t = 2**24 + 2*4096 + 1
        evt3_word(0x2, 63),                 # x = 63 >= width 50: off the sensor
        evt3_word(0x1, 4),                  # y of a non-CD event: following X words invalid
        evt3_word(0x2, 9),
    ]
    path = write(tmp_path, "% format EVT3;height=10;width=50\n% end\n", W, "<u2")
    r = open_events(path)
    ev = r.read()
    t0 = 4094 * 4096
    assert ev["x"].tolist() == [7, 20, 22, 31, 32, 33, 1, 40]
    assert ev["y"].tolist() == [3] * 8
    assert ev["p"].tolist() == [1, 0, 0, 0, 0, 0, 0, 1]
    assert ev["t"].tolist() == [t0 + 16] * 6 + [t0 + 8, (1 << 24) + 2 * 4096 + 1]
    assert r.dropped == 1
    tr = r.triggers()
    assert tr.tolist() == [(t0 + 16, 2, 1)]


def test_evt3_vector_triplet(tmp_path):
    # sensors send VECT_12, VECT_12, VECT_8 after a VECT_BASE_X: 32 pixels from the base
    W = [
        evt3_word(0x8, 1), evt3_word(0x0, 2), evt3_word(0x6, 5),
        evt3_word(0x3, (1 << 11) | 100),    # base x = 100, ON
        evt3_word(0x4, (1 << 11) | 1),      # x = 100, 111
        evt3_word(0x4, 1),                  # x = 112
        evt3_word(0x5, 1 << 7),             # x = 131: off the 130-wide sensor
        evt3_word(0x5, 1),                  # base is now 132: off the sensor too
        evt3_word(0x3, 3), evt3_word(0x4, 1 << 2), evt3_word(0x4, 0), evt3_word(0x5, 1),  # OFF x=5, 27
        evt3_word(0x2, (1 << 11) | 9),      # ADDR_X polarity does not change the vector base's
        evt3_word(0x5, 1 << 1),             # x = 3 + 32 + 1 = 36, still OFF
    ]
    path = write(tmp_path, "% format EVT3;height=4;width=130\n", W, "<u2")
    r = open_events(path)
    ev = r.read()
    assert ev["x"].tolist() == [100, 111, 112, 5, 27, 9, 36]
    assert ev["p"].tolist() == [1, 1, 1, 0, 0, 1, 0]
    assert ev["t"].tolist() == [4096 + 5] * 7
    assert r.dropped == 2


def test_evt2_words(tmp_path):
    def cd(p, ts, x, y):
        return (p << 28) | (ts << 22) | (x << 11) | y

    th_max = (1 << 28) - 1
    W = [
        cd(1, 3, 1, 1),                        # before TIME_HIGH: skipped
        (0x8 << 28) | 100,                     # base 6400
        cd(1, 5, 10, 20), cd(0, 63, 639, 479),
        (0xA << 28) | (7 << 22) | (3 << 8) | 0,  # trigger id 3, falling, t = 6407
        (0xE << 28) | 0x14,                    # OTHERS: skipped
        (0x8 << 28) | th_max,                  # last TIME_HIGH of the 34-bit range
        cd(0, 1, 2, 3),
        (0x8 << 28) | 0,                       # wrapped
        cd(1, 2, 4, 5),
        cd(1, 2, 640, 5),                      # off the sensor
    ]
    path = write(tmp_path, "% evt 2.0\n% geometry 640x480\n", W, "<u4")
    r = open_events(path)
    ev = r.read()
    assert r.format == "EVT2" and (r.width, r.height) == (640, 480)
    assert ev["x"].tolist() == [10, 639, 2, 4]
    assert ev["y"].tolist() == [20, 479, 3, 5]
    assert ev["p"].tolist() == [1, 0, 0, 1]
    assert ev["t"].tolist() == [6405, 6463, (th_max << 6) + 1, (1 << 34) + 2]
    assert r.triggers().tolist() == [(6407, 3, 0)]
    assert r.dropped == 1


@pytest.mark.parametrize("legacy", [False, True])
def test_evt21_words(tmp_path, legacy):
    def word(hi, lo=0):
        w = (hi << 32) | lo
        return ((lo << 32) | hi) if legacy else w

    def vec(p, ts, x, y, mask):
        return word((p << 28) | (ts << 22) | (x << 11) | y, mask)

    W = [
        vec(1, 0, 0, 0, 1),                     # before TIME_HIGH: skipped
        word((0x8 << 28) | 10),                 # t = 640
        vec(1, 4, 32, 7, (1 << 31) | 0b101),    # x = 32, 34, 63 at t = 644
        vec(0, 9, 64, 8, 1 << 3),               # x = 67, OFF, t = 649
        word((0xA << 28) | (12 << 22) | (5 << 8) | 1),  # trigger id 5, t = 652
    ]
    opt = ";endianness=legacy" if legacy else ""
    path = write(tmp_path, f"% format EVT21{opt};height=100;width=100\n% end\n", W, "<u8")
    r = open_events(path)
    ev = r.read()
    assert r.format == "EVT21"
    assert ev["x"].tolist() == [32, 34, 63, 67]
    assert ev["y"].tolist() == [7, 7, 7, 8]
    assert ev["p"].tolist() == [1, 1, 1, 0]
    assert ev["t"].tolist() == [644, 644, 644, 649]
    assert r.triggers().tolist() == [(652, 5, 1)]


def test_system_id_gives_format_and_size(tmp_path):
    path = write(tmp_path, "% system_ID 48\n", [evt3_word(0x8, 0)], "<u2")
    r = open_events(path)
    assert (r.format, r.width, r.height) == ("EVT3", 1280, 720)


# --- bad input: one clear error ----------------------------------------------------

def test_truncated_names_file_and_offset(tmp_path):
    path = write(tmp_path, "% format EVT2;width=640;height=480\n", [0x80000001, 0x10000000], "<u4")
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    with pytest.raises(EventFileError, match=r"x\.raw.*at byte 39.*truncated"):
        read_events(path)


@pytest.mark.parametrize("header, match", [
    ("% format EVT4;width=10;height=10\n", "unsupported event format 'EVT4'"),
    ("% evt 9.9\n", "unknown event format 'evt 9.9'"),
    ("% format EVT3\n", "no sensor size"),
    ("% Date 2020\n", "names no event format"),
    ("% format EVT3;width=abc;height=3\n", "not an integer"),
])
def test_bad_headers(tmp_path, header, match):
    path = write(tmp_path, header, [0], "<u4")
    with pytest.raises(EventFileError, match=match):
        open_events(path)


def test_not_an_event_file(tmp_path):
    path = tmp_path / "noise.raw"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(EventFileError, match="not a recognised event file"):
        open_events(path)
    path.write_bytes(b"% format EVT3;width=")  # cut inside the header
    with pytest.raises(EventFileError, match="truncated"):
        open_events(path)


def test_dat_of_other_events_is_refused(tmp_path):
    path = tmp_path / "a.dat"
    path.write_bytes(b"% Data file containing EventExtTrigger events.\n% Version 2\n" + bytes([0x0E, 8]))
    with pytest.raises(EventFileError, match="not a CD event"):
        open_events(path)


# --- EVT 3.0 decoded by two threads ----------------------------------------------------

def test_two_threads_decode_the_recording_as_one_does(shared_data, monkeypatch):
    path = need(shared_data / "events" / "gen41_evt3.raw")
    whole = read_events(path, threads=1)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 4099)  # many blocks, each cut in two
    cuts = []
    split = readers.RawReader._split
    monkeypatch.setattr(readers.RawReader, "_split", lambda self, w: cuts.append(split(self, w)) or cuts[-1])
    parts = list(open_events(path, threads=2).chunks(max_events=777))
    assert len(cuts) > 30 and sum(c > 0 for c in cuts) > 0.9 * len(cuts)
    assert all(len(p) <= 777 for p in parts)
    assert np.array_equal(readers.join(parts, whole.dtype), whole)


def test_two_threads_count_time_wraps_vectors_and_triggers(tmp_path, monkeypatch):
    """A written file of 50 s (three wraps of the 24-bit time base), row bursts written as
    vectors, and triggers: a wrap in the first half of a block moves the second half's times."""
    from drivers.dvs.writers import write_raw
    from tests.test_dvs_writers import random_events, triggers

    ev = random_events(40_000, 1280, 720, t0=913_000_000)
    ev["x"][::2] = np.minimum(ev["x"][::2], 1278)
    for k, step in (("y", 0), ("t", 0), ("p", 0), ("x", 1)):  # pairs of neighbours: vectors
        ev[k][1::2] = ev[k][::2] + step
    tr = triggers([913_000_010, 913_000_000 + 30_000_000], [1, 3], [1, 0])
    path = tmp_path / "wraps.raw"
    write_raw(path, ev, 1280, 720, "EVT3", tr)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1 << 12)
    fixes = []
    join_halves = readers.RawReader._join_halves
    monkeypatch.setattr(readers.RawReader, "_join_halves",
                        lambda self, *a: fixes.append(join_halves(self, *a)) or fixes[-1])
    r = open_events(path, threads=2)
    got, got_tr = readers.join([e for e, _ in r.chunks_and_triggers(1000)], ev.dtype), r.triggers()
    assert np.array_equal(got, ev) and np.array_equal(got_tr, tr)
    # the writer counts from 0 to 54 wraps at the start, then three more in 50 s
    assert 54 in fixes and fixes.count(1) >= 1 and set(fixes) <= {0, 1, 54}
