"""The test lanes: `pytest -m "not integration"` is the fast lane, free of processes.

A test that uses the `shared_data` fixture is marked `data` here. A test that starts a
Python process (a graph, a worker, the CLI, a simulator) or opens a network socket from
Python must be marked `integration` (module `pytestmark` or a decorator): it fails when it
is not. tests/conftest.py takes these hooks; `pytest -p tests.lanes` loads them elsewhere."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

# What each test started, recorded by an audit hook (it sees every subprocess, fork and
# Python socket; ZeroMQ's sockets live in libzmq, out of its sight).
_started: list[str] = []
_lock = threading.Lock()


# File readers that run a foreign library in a helper process, so that a corrupt file
# cannot hang or crash the caller: reading such a file is still a unit of the fast lane.
READER_HELPERS = {"drivers.dvs.aedat4_helper", "drivers.eeg.mat_clips"}


def _python_process(executable, args) -> str | None:
    """A description of the process if it runs Python or our command; None for other
    programs that libraries run for themselves (uname, ldconfig, ...)."""
    argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args or [])
    program = Path(os.fsdecode(executable or (argv[0] if argv else ""))).name
    if program.startswith("python") or program == "streamer":
        if any(os.fsdecode(a) in READER_HELPERS for a in argv):
            return None  # part of reading a file (a crash-proof reader), not a graph
        return " ".join(os.fsdecode(a) for a in argv)[:200]
    return None


def _audit(event: str, args: tuple) -> None:
    if event == "subprocess.Popen":
        what = _python_process(args[0], args[1])
    elif event in ("os.fork", "os.forkpty"):
        what = event
    elif event in ("socket.bind", "socket.connect") and isinstance(args[1], tuple):
        what = f"{event} {args[1]}"  # an IP address (a Unix socket's is a path)
    else:
        return
    if what is not None:
        with _lock:
            _started.append(what)


def pytest_configure(config):
    sys.addaudithook(_audit)  # audit hooks cannot be removed: one per session


def pytest_collection_modifyitems(items):
    for item in items:
        if "shared_data" in item.fixturenames:
            item.add_marker(pytest.mark.data)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    with _lock:
        _started.clear()  # before any fixture of this test runs
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or report.skipped or item.get_closest_marker("integration"):
        return
    with _lock:
        started = list(_started)
    if started:
        report.outcome = "failed"
        message = (f"{item.nodeid} started {len(started)} process(es) or socket(s) (first: {started[0]}) "
                   "but is not marked integration: mark it (pytestmark = pytest.mark.integration) so "
                   "that the fast lane `pytest -m \"not integration\"` stays free of them")
        report.longrepr = message if report.longrepr is None else f"{report.longrepr}\n\n{message}"
