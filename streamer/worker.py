"""A worker process: runs the nodes of one unit (a node, or a group) and reports to the
supervisor. Started by the runner as `python -m streamer.worker SPEC.json`.

Control protocol (msgpack over DEALER -> the supervisor's ROUTER):
  worker -> supervisor: ready, stats (every 0.25 s), error (with traceback), done
  supervisor -> worker: go, stop, ended (edges whose sender is gone for good),
                        detach (edges whose receiver is gone for good), release,
                        clock (this host's clock offset to the controller's, on other hosts),
                        figures (the run's figures, for a node that shows them: the console)

Stopping is the same whatever asks for it ("stop", SIGTERM, or the supervisor's death,
which Linux turns into a SIGTERM): every node's `on_stop()` output still goes out (the
gate's safe command), nodes with `stop_drain_s` (actuators) first take what is still
coming to them, and the sockets flush before the process exits. Whatever else the nodes
started in this process group is killed on the way out.
"""
from __future__ import annotations

import cProfile
import gc
import json
import logging
import os
import select
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

import zmq

from . import registry, security
from .counters import Slots, layout, slot_count
from .latency import Histogram
from .node import EndOfStream, Node, Rejected, Source, Unavailable, emitted
from .process import die_with_parent, kill_process_group
from .states import NodeState
from .streams import now, set_clock_offset
from .transport import Inbox, Outbox, Stopped
from .wire import pack, unpack

HEARTBEAT_S = 0.25
# On a stop: how long a node may still spend sending its last words (safe command, end of
# stream), and how long the sockets may flush them. Both well inside the supervisor's grace.
STOP_SEND_S = 0.5
STOP_LINGER_MS = 300
# A worker whose supervisor died exits by itself at the latest after this.
ORPHAN_EXIT_S = 3.0
PROFILE_ENV = "STREAMER_PROFILE"
log = logging.getLogger("streamer.worker")


def failure() -> str:
    """The exception being handled, for the supervisor: its message alone when it says what
    to do (Unavailable: no camera...), else the traceback."""
    exc = sys.exc_info()[1]
    return f"{exc}\n" if isinstance(exc, Unavailable) else traceback.format_exc()


class NodeRunner:
    """One node, its inbox and outbox, and the loop that drives it (in its own thread)."""

    def __init__(self, ctx: zmq.Context, spec: dict, epoch: int, stop: threading.Event,
                 curve: dict | None = None, restarting: threading.Event | None = None) -> None:
        self.spec = spec
        # Set when this process fails and will be restarted: its streams go on after it.
        self.restarting = restarting or threading.Event()
        self.curve = curve
        self.name = spec["name"]
        self.stop_event = stop
        self.state = NodeState.STARTING
        self.error = ""
        cls = registry.get(spec["type"])
        self.node: Node = cls(**spec["params"])
        self.node.name = self.name
        self.node.incarnation = int(spec.get("incarnation", 0))
        in_keys = [e["key"] for e in spec["in_edges"]]
        out_keys = [e["key"] for e in spec["out_edges"]]
        self.where = layout(in_keys, out_keys)
        self.slots = Slots(slot_count(in_keys, out_keys), spec.get("counters"))
        self.inbox = Inbox(ctx, spec["bind"], spec["in_edges"], epoch, self.slots, self.where,
                           tuple(self.node.control_inputs), curve) if spec["in_edges"] else None
        # Peers refused at a tcp inbox (no key, or not the graph's): counted, never read.
        self.refusals = (security.Refusals(self.inbox.socket) if self.inbox is not None and curve is not None
                         and any(b.startswith("tcp://") for b in spec["bind"]) else None)
        self.outbox: Outbox | None = None
        self.epoch = epoch
        self.in_msgs = self.in_items = self.out_msgs = self.out_items = 0
        self.rejected = 0
        self.last_rejection = ""
        self.hist = Histogram()
        self.details_sent = False  # details are set once by start(): sent once, not every 0.25 s
        self.thread: threading.Thread | None = None
        # A node with a timer may be woken by its own threads (node.wake(): the console's
        # server with an emergency stop): a pipe polled beside the inbox, so that what they
        # hand over goes out at once rather than at the next tick.
        self.wake_r = self.wake_w = -1
        if self.node.tick_interval_s:
            self.wake_r, self.wake_w = os.pipe()
            os.set_blocking(self.wake_r, False)
            os.set_blocking(self.wake_w, False)
            self.node.wake = self._wake
            if self.inbox is not None:
                self.inbox.watch(self.wake_r)

    def _wake(self) -> None:
        try:
            os.write(self.wake_w, b"w")
        except (BlockingIOError, OSError):  # full: a wake-up is pending; closed: the node ended
            pass

    def _woken(self) -> bool:
        if self.wake_r < 0:
            return False
        try:
            return bool(os.read(self.wake_r, 4096))
        except BlockingIOError:
            return False

    def connect(self, ctx: zmq.Context) -> None:
        self.outbox = Outbox(ctx, self.spec["out_edges"], self.epoch, self.slots, self.where, self.curve)

    def start(self) -> None:
        self.node.start()
        self.node.warm_up()

    def launch(self, go: bool) -> None:
        """Run the node in its thread; without `go` (stopped before the graph started) it
        only gets to send its last words."""
        self.state = NodeState.RUNNING
        target = profiled(self.run, self.name) if os.environ.get(PROFILE_ENV) else self.run
        self.thread = threading.Thread(target=target, args=(go,), name=self.name, daemon=True)
        self.thread.start()

    @property
    def done(self) -> bool:
        return self.state in (NodeState.FINISHED, NodeState.FAILED, NodeState.STOPPED)

    def run(self, go: bool = True) -> None:
        state = NodeState.FAILED
        try:
            if not go:
                raise Stopped
            self.emit(self.node.on_go())
            self.loop()
            state = NodeState.FINISHED
        except Stopped:
            state = NodeState.STOPPED
        except Exception:  # noqa: BLE001 - reported with its traceback, then the failure policy applies
            self.error = failure()
            if self.spec.get("restarts_left"):
                self.restarting.set()
        if state != NodeState.FINISHED:
            # Stopped or failed: the node's last words (a gate's safe command) still go out,
            # and the end of its streams unless a restarted process will carry them on.
            try:
                self.last_words(end=not self.restarting.is_set())
            except Exception:  # noqa: BLE001
                if not self.error:
                    self.error = failure()
                    state = NodeState.FAILED
        try:
            self.node.stop()
        except Exception:  # noqa: BLE001
            if not self.error:
                self.error = failure()
                state = NodeState.FAILED
        self.state = state

    def last_words(self, end: bool = True) -> None:
        """On a stop: take what is still coming (for nodes that drain), then send what
        `on_stop()` returns and (with `end`) the end of every output, within STOP_SEND_S."""
        deadline = now() + STOP_SEND_S
        drain_until = now() + min(self.node.stop_drain_s, STOP_SEND_S)

        def late() -> bool:
            return now() > deadline

        inbox = self.inbox
        if inbox is not None and self.node.stop_drain_s > 0:
            while not inbox.all_ended and now() < drain_until:
                if inbox.poll(min(20.0, max(0.0, (drain_until - now()) * 1e3))):
                    self.receive_all(late)
        self.emit(self.node.on_stop(), late)
        if self.outbox is not None and end:
            self.outbox.end(late)

    def emit(self, out: Any, abort: Any = None) -> None:
        abort = abort or self.stop_event.is_set
        for port, msg in emitted(self.node, out):
            self.out_msgs += 1
            self.out_items += msg.items
            self.outbox.send(port, msg, abort)

    def receive_all(self, abort: Any = None) -> None:
        node = self.node
        for port, msg in self.inbox.drain():
            self.in_msgs += 1
            self.in_items += msg.items
            self.hist.add(now() - msg.t_origin)
            try:
                out = node.receive(port, msg)
            except Rejected as exc:
                self.rejected += 1
                self.last_rejection = f"{port}: {exc}"[:500]
                if self.rejected == 1 or self.rejected % 1000 == 0:
                    log.warning("%s: input rejected (%d so far): %s", self.name, self.rejected, exc)
                continue
            self.emit(out, abort)

    def loop(self) -> None:
        node, inbox, stop = self.node, self.inbox, self.stop_event
        is_source = isinstance(node, Source)
        source_done = not is_source
        tick_s = node.tick_interval_s
        next_tick = now() + tick_s if tick_s else float("inf")
        while not stop.is_set():
            if not source_done:
                try:
                    self.emit(node.produce())
                except EndOfStream:
                    source_done = True
            if inbox is not None:
                if source_done:
                    wait_ms = min(100.0, max(0.0, (next_tick - now()) * 1e3))
                else:
                    wait_ms = 0
                if inbox.poll(wait_ms):
                    self.receive_all()
                if source_done and inbox.all_ended:
                    break
            elif source_done:
                break
            if self._woken() or now() >= next_tick:
                self.emit(node.tick())
                next_tick = now() + tick_s
        if stop.is_set():
            raise Stopped
        if not is_source and hasattr(node, "finish"):
            self.emit(node.finish())
        self.outbox.end(stop.is_set)

    def stats(self) -> dict:
        inbox = self.inbox
        details = {}
        if not self.details_sent:  # once, as soon as start() has set them
            details = self.node.details
            self.details_sent = bool(details)
        rejected = self.rejected + (inbox.rejected if inbox else 0)
        last = (inbox.last_error if inbox and inbox.last_error else "") or self.last_rejection
        return {"state": self.state, "in_msgs": self.in_msgs, "in_items": self.in_items,
                "out_msgs": self.out_msgs, "out_items": self.out_items, "latency": self.hist.counts,
                "counters": {**self.node.counters, **({"refused_handshakes": self.refusals.count()}
                                                      if self.refusals is not None else {})},
                "details": details,
                "rejected": rejected, "last_rejection": last,
                "edges_in": inbox.stats() if inbox else {},
                "edges_out": self.outbox.stats() if self.outbox else {},
                "blocked_s": self.outbox.blocked_s if self.outbox else 0.0,
                "error": self.error}

    def close(self, linger_ms: int) -> None:
        if self.outbox:
            self.outbox.close(linger_ms)
        if self.refusals is not None:
            self.refusals.close()
        if self.inbox:
            self.inbox.close()
        if self.wake_r >= 0:
            self.node.__dict__.pop("wake", None)  # its threads have stopped with it: back to the no-op
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.wake_r = self.wake_w = -1


class Worker:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.unit = spec["unit"]
        self.ctx = zmq.Context()
        self.control = self.ctx.socket(zmq.DEALER)
        self.control.setsockopt(zmq.IDENTITY, self.unit.encode())
        self.control.setsockopt(zmq.LINGER, 2000)
        self.control.connect(spec["control"])
        self.stop = threading.Event()
        self.restarting = threading.Event()
        self.orphaned = False
        self.runners: list[NodeRunner] = []
        # tcp edges: CURVE with this host's keys, peers admitted by the graph's public keys.
        sec = spec.get("security")
        self.curve = {"public": sec["public"], "secret": sec["secret"]} if sec else None
        self.guard = security.Guard(self.ctx, sec["allow"]) if sec else None

    def on_sigterm(self, signum: int, frame: Any) -> None:
        """SIGTERM, from a user or from Linux when the supervisor died: stop as on "stop"."""
        if os.getppid() != self.spec.get("supervisor_pid"):
            self.orphaned = True
            # Nobody will kill us if the stop hangs: make sure it cannot last.
            timer = threading.Timer(ORPHAN_EXIT_S, lambda: kill_process_group(include_self=True))
            timer.daemon = True
            timer.start()
        self.stop.set()

    def send(self, kind: str, **body: Any) -> None:
        if self.orphaned:
            return
        try:
            self.control.send(pack({"kind": kind, "unit": self.unit, "pid": os.getpid(), **body}), zmq.NOBLOCK)
        except zmq.Again:
            pass

    def recv(self, timeout_ms: int) -> dict | None:
        if self.control.poll(timeout_ms):
            return unpack(self.control.recv())
        return None

    def run(self) -> int:
        current = None
        set_clock_offset(self.spec.get("clock_offset_s", 0.0))
        try:
            epoch = int(self.spec["epoch"])
            for spec in self.spec["nodes"]:
                current = spec["name"]
                spec = {**spec, "restarts_left": self.spec.get("restarts_left", False)}
                self.runners.append(NodeRunner(self.ctx, spec, epoch, self.stop, self.curve, self.restarting))
            for runner in self.runners:  # inboxes are bound before any outbox connects (inproc)
                current = runner.name
                runner.connect(self.ctx)
            for runner in self.runners:
                current = runner.name
                runner.start()
        except Exception:  # noqa: BLE001 - reported to the supervisor with its traceback
            self.send("error", node=current, traceback=failure(), fatal=True)
            self.close(0)
            return 1
        # What start-up made (modules, compiled kernels, models) lives as long as the
        # process: kept out of the garbage collector's full passes, which would otherwise
        # walk it all (tens of ms with Numba loaded) in the middle of the stream. (No
        # collection first: it would delay a restarted actuator's safe start.)
        gc.freeze()
        self.send("ready")
        while not self.stop.is_set():
            msg = self.recv(200)
            if msg is None:
                continue
            if msg["kind"] == "go":
                break
            if msg["kind"] == "stop":
                self.stop.set()
        go = not self.stop.is_set()
        for runner in self.runners:
            # Even when stopped before the start, nodes get to send their last words.
            runner.launch(go)
        reported = set()
        next_beat = 0.0
        while True:
            msg = self.recv(int(HEARTBEAT_S * 200))
            if msg is not None:
                self.handle(msg)
            for runner in self.runners:
                if runner.state == NodeState.FAILED and runner.name not in reported:
                    reported.add(runner.name)
                    if self.spec.get("restarts_left"):
                        self.restarting.set()
                    self.send("error", node=runner.name, traceback=runner.error, fatal=True)
                    self.stop.set()
            if now() >= next_beat or all(r.done for r in self.runners):
                next_beat = now() + HEARTBEAT_S
                self.send("stats", nodes={r.name: r.stats() for r in self.runners})
            if all(r.done for r in self.runners):
                break
        failed = any(r.state == NodeState.FAILED for r in self.runners)
        clean = all(r.state == NodeState.FINISHED for r in self.runners)
        self.send("done", clean=clean)
        if clean:
            # ZeroMQ drops what is still queued when a process exits, so stay until the
            # supervisor has seen every downstream node receive our end of stream.
            while not self.orphaned:
                msg = self.recv(200)
                if msg is not None and msg["kind"] in ("release", "stop"):
                    break
                if msg is not None and msg["kind"] == "end_again":  # a receiver was restarted
                    for runner in self.runners:
                        if runner.outbox is not None:
                            runner.outbox.end_again(msg["edges"], lambda: self.orphaned or self.stop.is_set())
        self.close(STOP_LINGER_MS)
        return 1 if failed else 0

    def handle(self, msg: dict) -> None:
        kind = msg["kind"]
        if kind == "stop":
            self.stop.set()
        elif kind == "ended":
            for runner in self.runners:
                if runner.inbox is not None:
                    runner.inbox.end(msg["edges"])
        elif kind == "detach":
            for runner in self.runners:
                if runner.outbox is not None:
                    runner.outbox.detach(msg["edges"])
        elif kind == "clock":  # another host: the controller's latest estimate of our clock offset
            set_clock_offset(msg["offset_s"])
        elif kind == "figures":  # the supervisor's figures of the whole graph, for the console
            for runner in self.runners:
                take = getattr(runner.node, "on_figures", None)
                if take is not None:
                    take(msg["figures"])

    def close(self, linger_ms: int) -> None:
        deadline = now() + STOP_SEND_S + 0.2
        for runner in self.runners:
            if runner.thread is not None:
                runner.thread.join(timeout=max(0.0, deadline - now()))
            runner.close(linger_ms)
        if self.orphaned:
            self.control.setsockopt(zmq.LINGER, 0)
        self.control.close()
        if self.guard is not None:
            self.guard.close()
        self.ctx.term()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        spec = json.load(f)
    worker = Worker(spec)
    # The supervisor decides when to stop: Ctrl-C in the terminal reaches it alone. Its
    # death reaches us as SIGTERM (also if it died before we could ask: checked below).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    die_with_parent(signal.SIGTERM)
    if os.getppid() != spec.get("supervisor_pid"):
        worker.on_sigterm(signal.SIGTERM, None)
    logging.basicConfig(level=spec.get("log_level", "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s {spec['unit']} %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    try:
        code = worker.run()
    finally:
        # Whatever the nodes started (a simulator's processes) does not outlive us.
        kill_process_group(include_self=False)
    return code


def profiled(run: Callable[[bool], None], node: str) -> Callable[[bool], None]:
    """With STREAMER_PROFILE=folder, a node's thread is profiled for the whole run into
    folder/NODE.prof (for `python -m pstats` or snakeviz): where that node's time goes."""
    def run_profiled(go: bool) -> None:
        profile = cProfile.Profile()
        profile.enable()
        try:
            run(go)
        finally:
            profile.disable()
            folder = Path(os.environ[PROFILE_ENV])
            folder.mkdir(parents=True, exist_ok=True)
            profile.dump_stats(folder / f"{node}.prof")
    return run_profiled


if __name__ == "__main__":
    sys.exit(main())
