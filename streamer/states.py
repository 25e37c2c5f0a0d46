"""The states of nodes and of the processes that run them, and the failure policies."""
from __future__ import annotations

from enum import Enum


class NodeState(str, Enum):
    """A node, as the figures show it."""

    STARTING = "starting"          # process started, start() not done
    RUNNING = "running"
    FINISHED = "finished"          # every input ended (or the source did), outputs ended
    STOPPED = "stopped"            # asked to stop (duration, signal, failure elsewhere)
    FAILED = "failed"
    RESTARTING = "restarting"
    DETACHED = "detached"          # failed for good and cut off; the graph goes on
    UNRESPONSIVE = "unresponsive"  # alive but silent for HEARTBEAT_TIMEOUT_S

    def __str__(self) -> str:
        return self.value


class UnitState(str, Enum):
    """A worker process (a node, or a group of nodes), as the supervisor tracks it."""

    STARTING = "starting"    # spawned, not ready
    READY = "ready"          # start() done, waiting for "go"
    RUNNING = "running"
    DRAINING = "draining"    # finished; waits until downstream has its end of stream
    RELEASED = "released"    # told it may exit
    DONE = "done"            # exited with status 0
    STOPPED = "stopped"      # exited after a stop request
    FAILED = "failed"        # exited otherwise, and will not be restarted
    DETACHED = "detached"    # failed for good, cut off from its upstream

    def __str__(self) -> str:
        return self.value

    @property
    def exited(self) -> bool:
        return self in (UnitState.DONE, UnitState.STOPPED, UnitState.FAILED, UnitState.DETACHED)


class OnFailure(str, Enum):
    """What the runtime does when a node fails (`on_failure` in a graph)."""

    RESTART = "restart"   # start it again, up to max_restarts; then stop (detach if optional)
    STOP = "stop"         # stop the whole graph through its safe state
    DETACH = "detach"     # cut it off: its upstream never waits for it, what it misses is counted

    def __str__(self) -> str:
        return self.value
