"""The lanes' guard (tests/lanes.py): a test that starts a process or a socket without the
integration mark fails, naming what it started; marked or pure tests pass; a test using the
shared recordings is marked data."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.runtime_helpers import ROOT

pytestmark = pytest.mark.integration

INNER = '''
import socket
import subprocess
import sys

import pytest


@pytest.fixture
def shared_data(tmp_path):
    return tmp_path


def test_starts_python_unmarked():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.integration
def test_starts_python_marked():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_opens_a_socket_unmarked():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))


def test_runs_another_program_unmarked():
    subprocess.run(["true"], check=True)


def test_pure():
    assert sum(range(4)) == 6


def test_reads_recordings(shared_data):
    assert shared_data.is_dir()
'''


def _inner(tmp_path, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "test_inner.py"
    path.write_text(INNER)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.lanes", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "-o", "addopts=", "-rA", *args, str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_unmarked_processes_and_sockets_fail(tmp_path):
    out = _inner(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    failed = sorted(line.split("::")[1].split()[0] for line in lines if line.startswith("FAILED"))
    passed = sorted(line.split("::")[1].split()[0] for line in lines if line.startswith("PASSED"))
    assert failed == ["test_opens_a_socket_unmarked", "test_starts_python_unmarked"], out.stdout
    assert passed == ["test_pure", "test_reads_recordings", "test_runs_another_program_unmarked",
                      "test_starts_python_marked"], out.stdout
    assert "is not marked integration" in out.stdout
    assert f"(first: {sys.executable} -c pass)" in out.stdout
    assert "(first: socket.bind ('127.0.0.1', 0))" in out.stdout


def test_recordings_mark_data(tmp_path):
    out = _inner(tmp_path, "-m", "data")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 5 deselected" in out.stdout
