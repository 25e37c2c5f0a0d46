"""In a real terminal of 80 columns (a pty replayed by pyte), the nodes' log lines scroll
above the live table and survive it, and the table fits the width with every node named."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import sys
import termios
from pathlib import Path

import pytest

pyte = pytest.importorskip("pyte")
ROOT = Path(__file__).resolve().parent.parent
COLS, ROWS = 80, 50

pytestmark = pytest.mark.integration  # a server socket or a terminal process


def capture(args: list[str], timeout_s: float = 180.0) -> list[str]:
    screen = pyte.HistoryScreen(COLS, ROWS, history=10000)
    stream = pyte.ByteStream(screen)
    pid, fd = pty.fork()
    if pid == 0:  # the child: streamer in the terminal
        os.chdir(ROOT)
        os.environ.update(COLUMNS=str(COLS), LINES=str(ROWS), TERM="xterm")
        os.execv(sys.executable, [sys.executable, "-m", "streamer", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    import time
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            stream.feed(data)
    os.waitpid(pid, 0)
    history = ["".join(line[x].data for x in range(COLS)).rstrip() for line in screen.history.top]
    return history + [line.rstrip() for line in screen.display]


def test_log_lines_and_table_both_survive_at_80_columns(tmp_path):
    lines = capture(["run", "graphs/demo.yaml", "--duration", "8"])
    (tmp_path / "terminal.txt").write_text("\n".join(lines))
    print(f"\nterminal capture in {tmp_path / 'terminal.txt'}")
    text = "\n".join(lines)
    passed = [ln for ln in lines if "[passed]" in ln]
    assert len(passed) >= 3, text  # the actuator's log lines, each command on its own line
    assert any("sending safe command" in ln for ln in lines), text
    header = next(i for i, ln in enumerate(lines) if "node" in ln and "msg/s" in ln)
    assert header > lines.index(passed[-1])  # the table below the logs, not over them
    for node in ("camera", "denoise", "bins", "snn", "action", "gate", "out", "score"):
        assert any(ln.startswith((f"│{node} ", f"│{node}│")) for ln in lines[header:]), node
    assert any("accuracy_pct=" in ln for ln in lines[header:]), text
    assert all(len(ln) <= COLS for ln in lines)
