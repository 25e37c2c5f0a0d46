"""dvs.file, dvs.network and dvs.camera driven directly (no processes)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.dvs import read_events
from drivers.dvs.readers import TRIGGER_DTYPE
from drivers.dvs.sources import Camera, FileCamera, NetworkInput
from drivers.dvs.writers import write_raw
from streamer.recording import concat
from streamer.streams import EVENT_DTYPE
from streamer.testing import run
from tests.conftest import need

@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["gen3_evt2.raw", "gen41_evt3.raw", "ncars_td.dat", "dvxplorer.aedat4"])
def test_file_source_gives_every_event(shared_data, name, threads):
    path = need(shared_data / "events" / name)
    out = run(FileCamera(path=str(path), speed=0, chunk_us=2000, threads=threads))
    msgs = out["out"]
    ev = concat([m.data for m in msgs])
    ref = read_events(path, threads=1)
    assert np.array_equal(ev, ref)
    for m in msgs:  # each chunk lies before its t_end_us, chunks are 2 ms apart
        assert len(m.data) == 0 or m.data["t"][-1] < m.meta["t_end_us"]
        assert (m.meta["width"], m.meta["height"]) == {"gen3_evt2.raw": (640, 480), "gen41_evt3.raw": (1280, 720),
                                                       "ncars_td.dat": (304, 240),
                                                       "dvxplorer.aedat4": (320, 240)}[name]


def test_file_source_triggers_become_markers(tmp_path):
    ev = np.zeros(3, EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = [100, 25_000, 60_000], [1, 2, 3], [4, 5, 6], [1, 0, 1]
    tr = np.array([(20_000, 2, 1), (50_000, 2, 0)], TRIGGER_DTYPE)
    path = tmp_path / "t.raw"
    write_raw(path, ev, 16, 16, "EVT2", tr)
    out = run(FileCamera(path=str(path), speed=0, chunk_us=10_000))
    marks = [m.data for m in out["markers"]]
    assert [(m["label"], m["value"], round(m["time_s"] * 1e6)) for m in marks] == [("trigger2", 1, 20_000), ("trigger2", 0, 50_000)]
    assert np.array_equal(concat([m.data for m in out["out"]]), ev)


def test_file_source_loops_with_increasing_time(shared_data):
    path = need(shared_data / "events" / "ncars_td.dat")
    n = len(read_events(path))
    out = run(FileCamera(path=str(path), speed=0, loop=True, chunk_us=50_000), max_messages=9)
    ev = concat([m.data for m in out["out"]])
    assert len(ev) > 2 * n and np.all(np.diff(ev["t"]) >= 0)


def test_file_source_real_time_is_not_faster_than_the_recording(shared_data):
    path = need(shared_data / "events" / "ncars_td.dat")  # 0.1 s of device time
    t0 = time.monotonic()
    run(FileCamera(path=str(path), speed=1, chunk_us=10_000))
    assert time.monotonic() - t0 >= 0.09


def test_file_source_missing_file_is_a_clear_error(tmp_path):
    node = FileCamera(path=str(tmp_path / "nope.raw"))
    with pytest.raises(FileNotFoundError, match="nope.raw"):
        node.start()


def test_camera_without_hardware_lists_what_was_found():
    import dv_processing as dv
    if dv.io.camera.discover():
        pytest.skip("a camera is connected")
    with pytest.raises(RuntimeError, match="cameras found: none"):
        Camera().start()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_camera_prophesee_backend_without_sdk_says_so():
    import importlib.util
    if importlib.util.find_spec("metavision_core"):
        pytest.skip("the Metavision SDK is installed")
    with pytest.raises(RuntimeError, match="Metavision SDK"):
        Camera(backend="prophesee").start()


def test_camera_settings_are_validated():
    with pytest.raises(ValueError, match="crop"):
        Camera(crop=[0, 0, 10])
    with pytest.raises(ValueError, match="backend"):
        Camera(backend="sony")


# The DV side in its own process, as in use: dv-processing's NetworkWriter keeps a thread
# spinning at full speed once its client has gone, and blocks in its destructor, so in the
# test process it would starve every later test of CPU. Its process exits instead.
WRITER = r"""
import os, sys, time
import dv_processing as dv
path, n, kind, where = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rec = dv.io.MonoCameraRecording(path)
stores = []
while len(stores) < n:
    s = rec.getNextEventBatch()
    if s is not None:
        stores.append(s)
stream = dv.io.Stream.EventStream(0, "events", "DVXplorer", (320, 240))
if kind == "unix":
    writer = dv.io.NetworkWriter(where, stream)
else:
    writer = dv.io.NetworkWriter("127.0.0.1", int(where), stream)
print("ready", flush=True)
deadline = time.monotonic() + 10
while writer.getClientCount() == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
for s in stores:
    writer.writeEvents(s)
sys.stdin.readline()         # the reader has stopped:
writer.writeEvents(stores[0])  # wake its read blocked in dv-processing, which then sees stop
time.sleep(0.2)
os._exit(0)
"""


@pytest.mark.integration
@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_network_source_receives_a_dv_network_writer(shared_data, tmp_path, transport):
    import subprocess
    import sys

    import dv_processing as dv
    path = need(shared_data / "events" / "dvxplorer.aedat4")
    rec = dv.io.MonoCameraRecording(str(path))
    stores = []
    while len(stores) < 20:
        s = rec.getNextEventBatch()
        if s is not None:
            stores.append(s)
    if transport == "unix":
        where = str(tmp_path / "dv.sock")
        node = NetworkInput(socket_path=where)
    else:
        where = str(free_port())
        node = NetworkInput(address=f"127.0.0.1:{int(where)}")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "20", transport, where],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        node.start()
        assert (node.width, node.height) == (320, 240)
        got = []
        want = sum(len(s) for s in stores)
        deadline = time.monotonic() + 15
        while sum(len(m.data) for m in got) < want and time.monotonic() < deadline:
            out = node.produce()
            if out and "out" in out:
                got.append(out["out"])
        node.stop()
        writer.stdin.write("stop\n")
        writer.stdin.flush()
        node._thread.join(timeout=5)
        assert not node._thread.is_alive()
        assert writer.wait(timeout=10) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    ev = concat([m.data for m in got])
    ref = np.concatenate([s.numpy() for s in stores])
    assert np.array_equal(ev["t"], ref["timestamp"]) and np.array_equal(ev["x"], ref["x"])
    assert np.array_equal(ev["y"], ref["y"]) and np.array_equal(ev["p"], ref["polarity"])
    assert all(m.meta["t_end_us"] == m.data["t"][-1] for m in got)
