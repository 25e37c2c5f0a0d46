"""Damaged and crafted recordings: the reader resyncs on the chunk marker, reads every
intact chunk, reports what it skipped (offsets and why) and never raises or allocates
what the file cannot hold."""
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from streamer import recording, streams
from streamer.recording import MAGIC, SYNC, Reader, Writer
from streamer.record_nodes import Replay
from streamer.testing import run as run_node
from streamer.wire import pack
from tests.test_recording import some_messages

SETTINGS = settings(max_examples=80, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def chunk(header: dict, body: bytes = b"") -> bytes:
    """A version-2 chunk built from the format's description, checksums right."""
    hbytes = pack(header)
    lengths = struct.pack("<IQ", len(hbytes), len(body))
    return (SYNC + lengths + struct.pack("<I", zlib.crc32(hbytes, zlib.crc32(lengths))) + hbytes + body
            + struct.pack("<I", zlib.crc32(body)))


def header(stream="Samples", name="eeg", arrays=(), meta=None, **extra) -> dict:
    return {"k": name, "s": stream, "m": meta or {}, "o": 1.0, "r": 1.0, "q": 0, "a": list(arrays), **extra}


def valid_file(tmp_path, name="full.rec"):
    path = tmp_path / name
    w = Writer(path, fsync="never")
    for stream, m in some_messages():
        w.write(stream, m, 0.0)
    w.close()
    return path


def read_all(path):
    """What a reader and `read` make of a file; neither may raise."""
    reader = Reader(path)
    chunks = list(reader)
    rec = recording.read(path)
    for part in reader.skipped:
        assert len(MAGIC) <= part.offset < part.end <= path.stat().st_size and part.why
    return chunks, reader, rec


def test_one_flipped_byte_costs_one_chunk_not_the_rest(tmp_path):
    path = valid_file(tmp_path)
    full = path.read_bytes()
    offsets = [c.offset for c in Reader(path)] + [len(full)]
    for where, what in ((40, "body"), (20, "header"), (3, "sync marker")):
        bad = bytearray(full)
        bad[offsets[5] + where] ^= 0xFF
        path.write_bytes(bytes(bad))
        chunks, reader, rec = read_all(path)
        assert [c.offset for c in chunks] == offsets[:5] + offsets[6:-1], what
        (part,) = reader.skipped
        assert (part.offset, part.end) == (offsets[5], offsets[6]) and not reader.torn
        assert str(path) in reader.problem and f"bytes {offsets[5]}..{offsets[6]}" in reader.problem
        assert "checksum" in part.why or "marker" in part.why
        # the 59 other chunks are all there: 20 markers but one, or 19 of each array stream
        assert sum(len(r.seq) for r in rec.values()) == 59 and rec.skipped == reader.skipped


def test_a_torn_chunk_followed_by_appended_chunks(tmp_path):
    """A recorder killed mid-chunk and restarted: the torn part is skipped, every chunk
    before and after it is read."""
    path = valid_file(tmp_path)
    full = path.read_bytes()
    offsets = [c.offset for c in Reader(path)] + [len(full)]
    torn = full[:offsets[10]] + full[offsets[10]:offsets[11] - 7]  # chunk 10 lacks its last 7 bytes
    path.write_bytes(torn)
    w = Writer(path, append=True, fsync="never")
    assert w.appended
    for stream, m in some_messages()[:6]:
        w.write(stream, m, 0.0)
    w.close()
    chunks, reader, _ = read_all(path)
    assert len(chunks) == 10 + 6
    assert [(p.offset, p.end) for p in reader.skipped] == [(offsets[10], offsets[11] - 7)]
    assert "ends inside" in reader.skipped[0].why or "checksum" in reader.skipped[0].why


def test_crafted_sizes_are_refused_before_any_allocation(tmp_path):
    path = tmp_path / "crafted.rec"
    good = chunk(header(arrays=[["", "<f4", [1, 4]]], meta={"sfreq": 1.0, "ch_names": ["a"]}),
                 np.arange(4, dtype=np.float32).tobytes())
    crafted = [
        chunk(header(arrays=[["", "<f4", [2**40, 2**40]]], meta={"sfreq": 1.0, "ch_names": ["a"]})),  # OverflowError before
        chunk(header(arrays=[["", "<f4", [4]]], meta={"sfreq": 1.0, "ch_names": ["a"]}),  # 1-D Samples: AxisError in read()
              np.zeros(4, np.float32).tobytes()),
        chunk(header(arrays=[["", "<f4", [1, 1000]]], meta={"sfreq": 1.0, "ch_names": ["a"]}), b"\0" * 8),
        chunk(header(arrays=[["", "V0", [10**6]]])),                        # zero-size dtype
        chunk(header(arrays=[["", "|O", [1]]]), b"\0" * 8),                 # Python objects
        chunk(header(arrays=[["", "<f4", [1] * 40]]), b"\0" * 4),           # too many dimensions
        chunk(header(stream="Marker", arrays=[], d={"label": 3})),          # a marker without a text label
        chunk(header(stream="Marker", d={"label": "x"}, q=2**64 - 1)),     # a number no int64 holds
        chunk(header(stream="Bogus")),
        chunk([1, 2, 3]),                                                   # a header that is not a map
        chunk(header(stream="Events", arrays=[["", "<i4", [2]]], meta={"width": 4, "height": 4}), b"\0" * 8),
    ]
    path.write_bytes(MAGIC + good + b"".join(crafted) + good)
    chunks, reader, rec = read_all(path)
    assert len(chunks) == 2 and len(reader.skipped) == len(crafted)
    assert all("unusable chunk" in p.why for p in reader.skipped)
    assert "declares shape [1099511627776, 1099511627776]" in reader.skipped[0].why
    assert "declare 4000 bytes, the chunk body holds 8" in reader.skipped[2].why
    assert rec["eeg"].data.shape == (1, 8)


def test_read_keeps_the_first_kind_of_each_stream(tmp_path):
    """One name holding chunks of several stream types or shapes: `read` concatenates
    those like the first and reports the rest."""
    path = tmp_path / "mixed.rec"
    w = Writer(path, fsync="never")
    eeg = lambda n_ch: streams.samples(np.ones((n_ch, 4)), sfreq=10.0, ch_names=[f"c{i}" for i in range(n_ch)])
    w.write("x", eeg(2), 0.0)
    w.write("x", streams.marker("oops"), 0.0)
    w.write("x", eeg(3), 0.0)
    w.write("x", eeg(2), 0.0)
    w.write("f", streams.frames(np.zeros((2, 3, 3)), bin_us=1), 0.0)
    w.write("f", streams.frames(np.zeros((2, 4)), bin_us=1), 0.0)
    w.write("f", streams.frames(np.zeros((1, 3, 3), np.int8), bin_us=1), 0.0)
    w.close()
    rec = recording.read(path)
    assert rec["x"].data.shape == (2, 8) and rec["f"].data.shape == (2, 3, 3)
    whys = [p.why for p in rec.skipped]
    assert len(whys) == 4
    assert "Samples of 2 channels" in whys[0] and "this chunk is Marker" in whys[0]
    assert "this chunk is Samples of 3 channels" in whys[1]
    assert "shaped [4]" in whys[2] and "|i1" in whys[3]
    assert "mixed.rec" in rec.problem


def v1_file(path, msgs):
    """A file in the format of version 1, written from its description."""
    parts = [recording.MAGIC_V1]
    for name, m in msgs:
        arrays = [] if m.stream in streams.ITEM_STREAMS else [["", m.data.dtype.str, list(m.data.shape)]]
        h = {"k": name, "s": m.stream, "m": m.meta, "o": m.t_origin, "r": 0.0, "q": 0, "a": arrays}
        body = b"" if m.stream in streams.ITEM_STREAMS else m.data.tobytes()
        if m.stream in streams.ITEM_STREAMS:
            h["d"] = m.data
        hb = pack(h)
        parts += [struct.pack("<4sIQ", b"CHNK", len(hb), len(body)), hb, body,
                  struct.pack("<I", zlib.crc32(body, zlib.crc32(hb)))]
    path.write_bytes(b"".join(parts))


def test_version_1_files_are_still_read_and_resynced(tmp_path):
    msgs = [(n, m) for n, m in some_messages() if n != "events"]  # the v1 writer above packs plain dtypes
    path = tmp_path / "v1.rec"
    v1_file(path, msgs)
    chunks, reader, rec = read_all(path)
    assert reader.version == 1 and len(chunks) == 40 and not reader.skipped
    np.testing.assert_array_equal(rec["eeg"].data[:, :16], msgs[0][1].data)
    assert recording.streams_of(path) == {"eeg": "Samples", "markers": "Marker"}
    full = path.read_bytes()
    offsets = [c.offset for c in chunks] + [len(full)]
    bad = bytearray(full)
    bad[offsets[3] + 30] ^= 0x55
    path.write_bytes(bytes(bad))
    chunks, reader, _ = read_all(path)
    assert len(chunks) == 39 and [(p.offset, p.end) for p in reader.skipped] == [(offsets[3], offsets[4])]
    with pytest.raises(recording.RecordingError, match="cannot append"):
        Writer(path, append=True)


def test_a_newer_version_says_to_update(tmp_path):
    path = tmp_path / "v9.rec"
    path.write_bytes(recording.MAGIC_PREFIX + b"\x09\r\n")
    with pytest.raises(recording.RecordingError, match="version 9.*update streamer"):
        Reader(path)


def test_replay_skips_damaged_and_mismatched_chunks_and_counts_them(tmp_path):
    path = valid_file(tmp_path)
    full = path.read_bytes()
    offsets = [c.offset for c in Reader(path)] + [len(full)]
    bad = bytearray(full)
    bad[offsets[4] + 50] ^= 0x01  # chunk 4: an eeg chunk
    extra = chunk(header(stream="Marker", name="eeg", d={"label": "not samples"}))  # intact, wrong type
    path.write_bytes(bytes(bad) + extra + full[offsets[7]:offsets[8]])  # and eeg chunk 7 once more
    node = Replay(path=str(path), speed=0)
    out = run_node(node)
    assert [len(out[k]) for k in ("events", "eeg", "markers")] == [20, 20 - 1 + 1, 20]
    assert node.counters["skipped_parts"] == 1 and node.counters["skipped_bytes"] == offsets[5] - offsets[4]
    assert node.counters["skipped_chunks"] == 1


def test_replay_scans_the_file_once(tmp_path, monkeypatch):
    """Time linear in the file's length: the stream list and the chunks are read once,
    not per message."""
    path = tmp_path / "long.rec"
    w = Writer(path, fsync="never")
    for i in range(3000):
        w.write(f"s{i % 5}", streams.marker("m", i), 0.0)
    w.close()
    calls = {"streams_of": 0, "headers": 0, "chunks": 0}
    real_streams_of, real_chunks = recording.streams_of, Reader.chunks

    def counted_streams_of(p):
        calls["streams_of"] += 1
        return real_streams_of(p)

    def counted_chunks(self, *a, **k):
        calls["headers" if k.get("headers_only") else "chunks"] += 1
        return real_chunks(self, *a, **k)

    monkeypatch.setattr("streamer.record_nodes.streams_of", counted_streams_of)
    monkeypatch.setattr(Reader, "chunks", counted_chunks)
    out = run_node(Replay(path=str(path), speed=0))
    assert sum(len(v) for v in out.values()) == 3000
    assert calls == {"streams_of": 1, "headers": 1, "chunks": 1}


# -- fuzzing ---------------------------------------------------------------------------

class NoHugeAllocations:
    """Fails the test if NumPy is asked for more than `limit` bytes at once."""

    def __init__(self, monkeypatch, limit: int) -> None:
        self.limit = limit
        for name in ("empty", "zeros", "frombuffer"):
            real = getattr(np, name)
            monkeypatch.setattr(recording.np, name, self.wrap(real))

    def wrap(self, real):
        def checked(*args, **kwargs):
            out = real(*args, **kwargs)
            assert out.nbytes <= self.limit, f"{real.__name__} of {out.nbytes} bytes"
            return out
        return checked


def fuzz_read(path):
    chunks, reader, rec = read_all(path)
    for c in chunks:  # whatever came out has the shape of its stream type
        streams.validate(c.message)
    assert recording.streams_of(path).keys() >= {c.name for c in chunks}
    return chunks


@SETTINGS
@given(body=st.binary(max_size=3000))
def test_random_bytes(tmp_path, body):
    path = tmp_path / "random.rec"
    path.write_bytes(MAGIC + body)
    fuzz_read(path)


@SETTINGS
@given(data=st.data())
def test_random_flips_and_cuts_of_a_valid_file(tmp_path, monkeypatch, data):
    path = valid_file(tmp_path)
    full = bytearray(path.read_bytes())
    limit = len(full)
    NoHugeAllocations(monkeypatch, limit)
    for _ in range(data.draw(st.integers(0, 6))):
        i = data.draw(st.integers(len(MAGIC), len(full) - 1))
        full[i] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(len(MAGIC), len(full)))
    path.write_bytes(bytes(full[:cut]))
    chunks = fuzz_read(path)
    assert len(chunks) <= 60


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats() | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4),
                     max_leaves=12)
_shape = st.lists(st.one_of(st.integers(0, 8), st.integers(-3, 2**64 - 1)), max_size=10)
_descr = st.one_of(st.sampled_from(["<f4", "<f8", "|u1", "<i8", "V0", "|O", "<U3", "S0", "xx"]), _json)


@SETTINGS
@given(stream=st.sampled_from(list(streams.STREAM_TYPES) + ["Any", 7]),
       meta=st.one_of(_json, st.just({"sfreq": 1.0, "ch_names": ["a"], "width": 4, "height": 4})),
       arrays=st.lists(st.tuples(st.sampled_from(["", "times", 3]), _descr, _shape), max_size=3),
       item=st.one_of(_json, st.fixed_dictionaries({"label": st.text(max_size=4)}, optional={"time_s": _json})),
       body=st.binary(max_size=64), o=st.one_of(_json, st.floats()), q=st.one_of(_json, st.integers(-2**63, 2**64 - 1)))
def test_crafted_headers(tmp_path, monkeypatch, stream, meta, arrays, item, body, o, q):
    NoHugeAllocations(monkeypatch, 1 << 20)
    h = {"k": "x", "s": stream, "m": meta, "o": o, "r": 0.0, "q": q, "a": [list(a) for a in arrays], "d": item}
    path = tmp_path / "crafted.rec"
    path.write_bytes(MAGIC + chunk(h, body) + chunk(header(stream="Marker", name="m", d={"label": "ok"})))
    chunks = fuzz_read(path)
    assert chunks[-1].name == "m"  # the intact chunk after it is read


def test_a_file_of_false_markers_is_read_in_linear_time(tmp_path):
    """Sync markers every few bytes, each claiming a large header: checking stops at a
    bound on the work instead of taking time quadratic in the file's size."""
    path = tmp_path / "markers.rec"
    fake = SYNC + struct.pack("<IQI", recording.MAX_HEADER_BYTES, 0, 0)
    path.write_bytes(MAGIC + fake * 200_000)  # 4.8 MB
    reader = Reader(path)
    assert list(reader) == []
    assert reader.skipped[-1].end == path.stat().st_size
    assert "too much damage" in reader.skipped[-1].why
