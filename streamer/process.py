"""Process hygiene shared by the supervisor and its workers: nothing outlives the graph."""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send `sig` to this process when its parent dies, so no worker is orphaned."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig))
    except (OSError, AttributeError):
        pass


def _processes() -> list[tuple[int, list[str]]]:
    """(pid, fields of /proc/PID/stat after the command name) of every live process."""
    out = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and fields[0] != "Z":
            out.append((int(entry), fields))
    return out


def group_members(pgid: int) -> list[int]:
    """Processes of a process group (from /proc; empty where there is no /proc)."""
    return [pid for pid, fields in _processes() if int(fields[2]) == pgid]


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live direct children of a process."""
    out = []
    for child, fields in _processes():
        if int(fields[1]) == pid:
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    out.append((child, f.read().replace(b"\0", b" ").decode(errors="replace")))
            except OSError:
                continue
    return out


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_process_group(include_self: bool) -> None:
    """SIGKILL the other processes of this process's group (what its nodes started: a
    simulator's workers), and this process too with `include_self`. Only for a process
    that leads its own group, as every worker does."""
    me = os.getpid()
    if os.getpgrp() != me:
        if include_self:
            os._exit(1)
        return
    for pid in group_members(me):
        if pid != me:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if include_self:
        os.killpg(me, signal.SIGKILL)
