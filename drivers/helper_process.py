"""A reader library run in a helper process, under a progress watchdog.

Some readers are C or C++ libraries (dv-processing for AEDAT4, scipy's MATLAB reader) that
can loop forever, crash the process or allocate without end on a corrupt file. Run in a
helper process, such a failure becomes an exception in the node instead: the parent kills
the helper when no byte has come for `stall_s`, reports a crash by its signal, and the
helper's address space can be capped.

The helper serves requests one after another (a JSON line on its stdin each), so that a
node reading many files starts it once. Replies are frames on a pipe of their own: a kind
byte, the payload length (uint64) and the payload; a request ends with a `D` (done) or an
`X` frame (the helper's exception, as text). What the library prints goes to stderr.
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
from typing import Callable, Iterator

import numpy as np

_HEAD = struct.Struct("<cQ")


class HelperError(RuntimeError):
    """The helper failed: its library raised (`crashed` False), or it died, or stalled."""

    def __init__(self, message: str, crashed: bool = False) -> None:
        super().__init__(message)
        self.crashed = crashed


class HelperProcess:
    """`python -m module` as a helper: `request(**fields)` yields its (kind, payload) frames."""

    def __init__(self, module: str, stall_s: float = 10.0, memory_bytes: int | None = None) -> None:
        self.module = module
        self.stall_s = stall_s
        self.memory_bytes = memory_bytes
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        r, w = os.pipe()
        try:  # a 1 MB pipe: a batch of events crosses in one go, not in 64 KB turns
            fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except OSError:
            pass
        # the helper imports what this process imports (a worktree, a test's sys.path)
        env = dict(os.environ, STREAMER_HELPER_FD=str(w), PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        if self.memory_bytes:
            env["STREAMER_HELPER_MEMORY"] = str(int(self.memory_bytes))
        self.proc = subprocess.Popen([sys.executable, "-m", self.module], stdin=subprocess.PIPE,
                                     pass_fds=(w,), env=env)
        os.close(w)
        self._fd = r

    def request(self, **fields) -> Iterator[tuple[bytes, memoryview]]:
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        try:
            self.proc.stdin.write(json.dumps(fields).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            raise self._died() from None
        done = False
        try:
            while True:
                kind, length = _HEAD.unpack(self._read(_HEAD.size))
                payload = self._read(length)
                if kind in (b"D", b"X"):
                    done = True
                if kind == b"D":
                    return
                if kind == b"X":
                    raise HelperError(bytes(payload).decode(errors="replace"))
                yield kind, payload
        finally:
            if not done:  # left mid-reply (or failed): its rest must not answer the next request
                self.close()

    def _read(self, n: int) -> memoryview:
        buf = memoryview(np.empty(n, np.uint8))
        got = 0
        poll = select.poll()
        poll.register(self._fd, select.POLLIN)
        while got < n:
            if not poll.poll(self.stall_s * 1000):
                self.close()
                raise HelperError(f"no progress for {self.stall_s:g} s (the helper was stopped)", crashed=True)
            k = os.readv(self._fd, [buf[got:]])
            if k == 0:
                raise self._died()
            got += k
        return buf

    def _died(self) -> HelperError:
        code = self.proc.wait(5) if self.proc is not None else None
        self.close()
        if code is not None and code < 0:
            how = f"crashed ({signal.Signals(-code).name})"
        else:
            how = f"ended with exit status {code}"
        return HelperError(f"the reader {how}", crashed=True)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        os.close(self._fd)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def serve(handle: Callable[[dict, Callable[[bytes, bytes | memoryview], None]], None]) -> None:
    """The helper's side: `handle(request, send)` for each request line on stdin."""
    from streamer.process import die_with_parent
    die_with_parent()  # a helper stuck in its library is not reading stdin: it would outlive us
    out = os.fdopen(int(os.environ["STREAMER_HELPER_FD"]), "wb", buffering=0)
    os.dup2(2, 1)  # the library's own prints must not reach the frame pipe
    limit = os.environ.get("STREAMER_HELPER_MEMORY")
    if limit:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))

    def send(kind: bytes, payload: bytes | memoryview = b"") -> None:
        payload = memoryview(payload).cast("B")
        out.write(_HEAD.pack(kind, payload.nbytes))
        while payload.nbytes:
            payload = payload[out.write(payload):]

    for line in sys.stdin.buffer:
        try:
            handle(json.loads(line), send)
        except Exception as exc:  # noqa: BLE001 - every failure goes back as text
            send(b"X", f"{type(exc).__name__}: {exc}".encode())
            continue
        send(b"D")
