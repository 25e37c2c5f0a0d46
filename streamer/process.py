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


def group_members(pgid: int) -> list[int]:
    """Processes of a process group (from /proc; empty where there is no /proc)."""
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
        if len(fields) > 3 and int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(entry))
    return out


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
