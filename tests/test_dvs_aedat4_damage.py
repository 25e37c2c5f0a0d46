"""Damaged AEDAT4 recordings end with an error naming the file and where, in bounded time.

dv-processing's reader, given a real DVXplorer recording with bytes flipped in its event
packets, never returns (in the library, or returning no batch while it says it is
running); a recording cut in half cannot be opened. Read in a helper process, both end
with an EventFileError, also when the file camera runs in a real graph."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivers.dvs import EventFileError, open_events
from drivers.dvs.aedat4_packets import walk
from drivers.helper_process import HelperError, HelperProcess
from tests.conftest import need

GRAPH = Path(__file__).parent / "graphs" / "dvs_file_record.yaml"


@pytest.fixture
def recording(shared_data):
    return need(shared_data / "events" / "dvxplorer.aedat4")


def corrupt(src: Path, dst: Path, seed: int, n_bytes: int = 50) -> Path:
    """`n_bytes` bytes inverted at seeded offsets after the header (in the packets)."""
    data = bytearray(src.read_bytes())
    header_end = 18 + struct.unpack("<i", data[14:18])[0]
    for off in np.random.default_rng(seed).integers(header_end, len(data), n_bytes):
        data[off] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def test_intact_recording_reads_whole(recording):
    reader = open_events(recording)
    ev, tr = [], []
    for e, t in reader.chunks_and_triggers():
        ev.append(e)
        tr.append(t)
    reader.close()
    n = sum(len(e) for e in ev)
    assert n == 111_954 and (reader.width, reader.height) == (320, 240)
    t = np.concatenate([e["t"] for e in ev])
    assert np.all(np.diff(t) >= 0)


# The read runs in a process of its own here, so that a reader that hangs (as
# dv-processing did in this process) fails the test instead of hanging it.
READ = """
import json, sys
from drivers.dvs import EventFileError, open_events
try:
    open_events(sys.argv[1]).read()
    print(json.dumps({"error": None}))
except EventFileError as exc:
    print(json.dumps({"error": str(exc), "offset": exc.offset}))
"""


def read_in_child(path: Path, timeout: float = 120) -> dict:
    try:
        proc = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True, text=True,
                              timeout=timeout, cwd=Path(__file__).parent.parent)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"reading {path} did not end in {timeout} s") from None
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.integration  # a child Python process or a graph
@pytest.mark.parametrize("seed", [1, 4])
def test_corrupt_packets_end_with_the_file_and_offset(recording, tmp_path, seed):
    bad = corrupt(recording, tmp_path / f"corrupt{seed}.aedat4", seed)
    got = read_in_child(bad)
    msg = got["error"]
    assert msg and str(bad) in msg and "event packet" in msg, msg
    # the offset is the start of a packet of the event stream, past the header
    assert got["offset"] in walk(bad).of_type("EVTS"), msg


def test_truncated_recording_names_the_cut(recording, tmp_path):
    data = recording.read_bytes()
    cut = tmp_path / "half.aedat4"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(EventFileError) as err:
        open_events(cut).read()
    msg = str(err.value)
    assert str(cut) in msg and "truncated" in msg, msg
    assert walk(cut).header_end < err.value.offset <= len(data) // 2


@pytest.mark.integration  # a child Python process or a graph
def test_corrupt_recording_fails_the_graph_with_its_name(recording, tmp_path):
    bad = corrupt(recording, tmp_path / "corrupt1.aedat4", 1)
    proc = subprocess.run([sys.executable, "-m", "streamer", "run", str(GRAPH), "--no-live", "--duration", "120"],
                          env={**os.environ, "RAW": str(bad), "OUT": str(tmp_path / "run.rec")},
                          capture_output=True, text=True, timeout=150)
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert "corrupt1.aedat4" in proc.stderr and "event packet" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.integration  # a child Python process or a graph
def test_a_crashing_reader_is_an_error_not_a_dead_node():
    helper = HelperProcess("tests.crashing_helper", stall_s=30)
    with pytest.raises(HelperError, match="SIGSEGV") as err:
        list(helper.request(op="crash"))
    assert err.value.crashed
    # the next request starts a fresh helper
    assert [bytes(p) for _, p in helper.request(op="echo", text="again")] == [b"again"]
    helper.close()
