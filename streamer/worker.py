"""A worker process: runs the nodes of one unit (a node, or a group) and reports to the
supervisor. Started by the runner as `python -m streamer.worker SPEC.json`.

Control protocol (msgpack over DEALER -> the supervisor's ROUTER):
  worker -> supervisor: ready, stats (every 0.25 s), error (with traceback), done
  supervisor -> worker: go, stop, ended (edges whose sender died for good)
"""
from __future__ import annotations

import json
import logging
import os
import random
import signal
import sys
import threading
import time
import traceback
from typing import Any

import zmq

from . import registry
from .latency import Histogram
from .node import EndOfStream, Node, Source, emitted
from .process import die_with_parent
from .streams import Message, now
from .transport import Inbox, Outbox, Stopped
from .wire import pack, unpack

HEARTBEAT_S = 0.25
log = logging.getLogger("streamer.worker")


class NodeRunner:
    """One node, its inbox and outbox, and the loop that drives it (in its own thread)."""

    def __init__(self, ctx: zmq.Context, spec: dict, epoch: int, stop: threading.Event) -> None:
        self.spec = spec
        self.name = spec["name"]
        self.stop_event = stop
        self.state = "starting"
        self.error = ""
        cls = registry.get(spec["type"])
        self.node: Node = cls(**spec["params"])
        self.node.name = self.name
        self.inbox = Inbox(ctx, spec["bind"], spec["in_edges"], spec.get("resume", {})) if spec["in_edges"] else None
        self.outbox: Outbox | None = None
        self.epoch = epoch
        self.in_msgs = self.in_items = self.out_msgs = self.out_items = 0
        self.hist = Histogram()
        self.details_sent = False  # details are set once by start(): sent once, not every 0.25 s
        self.thread: threading.Thread | None = None

    def connect(self, ctx: zmq.Context) -> None:
        self.outbox = Outbox(ctx, self.spec["out_edges"], self.epoch)

    def start(self) -> None:
        self.node.start()
        self.node.warm_up()

    def launch(self) -> None:
        self.state = "running"
        self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self.thread.start()

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed", "stopped")

    def run(self) -> None:
        try:
            self.loop()
            self.state = "finished"
        except Stopped:
            self.state = "stopped"
        except Exception:  # noqa: BLE001 - reported with its traceback, then restart policy applies
            self.error = traceback.format_exc()
            self.state = "failed"
        finally:
            try:
                self.node.stop()
            except Exception:  # noqa: BLE001
                if not self.error:
                    self.error = traceback.format_exc()
                    self.state = "failed"

    def emit(self, out: Any) -> None:
        for port, msg in emitted(self.node, out):
            self.out_msgs += 1
            self.out_items += msg.items
            self.outbox.send(port, msg, self.stop_event)

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
                    for port, msg in inbox.drain():
                        self.in_msgs += 1
                        self.in_items += msg.items
                        self.hist.add(now() - msg.t_origin)
                        self.emit(node.receive(port, msg))
                if source_done and inbox.all_ended:
                    break
            elif source_done:
                break
            elif tick_s is None:
                pass
            if now() >= next_tick:
                self.emit(node.tick())
                next_tick = now() + tick_s
            if source_done and inbox is None and tick_s:
                time.sleep(min(0.1, max(0.0, next_tick - now())))
        if stop.is_set():
            raise Stopped
        if not is_source and hasattr(node, "finish"):
            self.emit(node.finish())
        self.outbox.end(stop)

    def stats(self) -> dict:
        inbox = self.inbox
        details = {}
        if not self.details_sent:  # once, as soon as start() has set them
            details = self.node.details
            self.details_sent = bool(details)
        return {"state": self.state, "in_msgs": self.in_msgs, "in_items": self.in_items,
                "out_msgs": self.out_msgs, "out_items": self.out_items, "latency": self.hist.counts,
                "counters": dict(self.node.counters),
                "details": details,
                "rejected": inbox.rejected if inbox else 0,
                "last_rejection": inbox.last_error if inbox else "",
                "edges_in": inbox.stats() if inbox else {},
                "edges_out": self.outbox.stats() if self.outbox else {},
                "blocked_s": self.outbox.blocked_s if self.outbox else 0.0,
                "error": self.error}

    def close(self, flush: bool) -> None:
        if self.outbox:
            self.outbox.close(None if flush else 0)
        if self.inbox:
            self.inbox.close()


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
        self.runners: list[NodeRunner] = []

    def send(self, kind: str, **body: Any) -> None:
        self.control.send(pack({"kind": kind, "unit": self.unit, "pid": os.getpid(), **body}))

    def recv(self, timeout_ms: int) -> dict | None:
        if self.control.poll(timeout_ms):
            return unpack(self.control.recv())
        return None

    def run(self) -> int:
        current = None
        try:
            epoch = random.getrandbits(31)
            for spec in self.spec["nodes"]:
                current = spec["name"]
                self.runners.append(NodeRunner(self.ctx, spec, epoch, self.stop))
            for runner in self.runners:  # inboxes are bound before any outbox connects (inproc)
                current = runner.name
                runner.connect(self.ctx)
            for runner in self.runners:
                current = runner.name
                runner.start()
        except Exception:  # noqa: BLE001 - reported to the supervisor with its traceback
            self.send("error", node=current, traceback=traceback.format_exc(), fatal=True)
            self.close(flush=False)
            return 1
        self.send("ready")
        while True:
            msg = self.recv(1000)
            if msg is None:
                continue
            if msg["kind"] == "go":
                break
            if msg["kind"] == "stop":
                self.close(flush=False)
                return 0
        for runner in self.runners:
            runner.launch()
        reported = set()
        next_beat = 0.0
        while True:
            msg = self.recv(int(HEARTBEAT_S * 200))
            if msg is not None:
                self.handle(msg)
            for runner in self.runners:
                if runner.state == "failed" and runner.name not in reported:
                    reported.add(runner.name)
                    self.send("error", node=runner.name, traceback=runner.error, fatal=True)
                    self.stop.set()
            if now() >= next_beat or all(r.done for r in self.runners):
                next_beat = now() + HEARTBEAT_S
                self.send("stats", nodes={r.name: r.stats() for r in self.runners})
            if all(r.done for r in self.runners):
                break
        failed = any(r.state == "failed" for r in self.runners)
        clean = all(r.state == "finished" for r in self.runners)
        self.send("done", clean=clean)
        if clean:
            # ZeroMQ drops what is still queued when a process exits, so stay until the
            # supervisor has seen every downstream node receive our end of stream.
            while True:
                msg = self.recv(1000)
                if msg is not None and msg["kind"] in ("release", "stop"):
                    break
        self.close(flush=False)
        return 1 if failed else 0

    def handle(self, msg: dict) -> None:
        if msg["kind"] == "stop":
            self.stop.set()
        elif msg["kind"] == "ended":
            for runner in self.runners:
                if runner.inbox is not None:
                    runner.inbox.end(msg["edges"])

    def close(self, flush: bool) -> None:
        for runner in self.runners:
            if runner.thread is not None:
                runner.thread.join(timeout=1.0)
            runner.close(flush)
        self.control.close()
        self.ctx.term()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when to stop
    with open(argv[0]) as f:
        spec = json.load(f)
    logging.basicConfig(level=spec.get("log_level", "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s {spec['unit']} %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    return Worker(spec).run()


if __name__ == "__main__":
    sys.exit(main())
