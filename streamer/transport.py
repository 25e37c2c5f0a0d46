"""ZeroMQ transport: one PULL inbox per node, one PUSH per outgoing edge.

Every node binds one PULL socket (ipc in the run directory, tcp when asked, and inproc
when it shares a process with other nodes); the topic frame names the edge, so the
receiver knows the port and keeps per-edge sequence numbers. Delivery policies:

- lossless: the sender waits (polling, so that it can still be stopped) while the
  receiver's queue is full; nothing is dropped.
- latest: the sender never waits; what does not fit is dropped and counted, and the
  receiver keeps only the newest of the messages waiting on that edge (the others are
  counted as superseded).

Every gap in an edge's sequence numbers is counted as lost, so loss is never silent.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import zmq

from . import wire
from .streams import Message

HWM = 64           # messages queued per lossless edge on each side
LATEST_HWM = 1
MAX_BATCH_BYTES = 1 << 20


class Stopped(Exception):
    """The node was asked to stop while waiting to send."""


@dataclass
class EdgeOut:
    key: str
    policy: str
    socket: zmq.Socket
    epoch: int
    seq: int = 0
    sent: int = 0
    dropped: int = 0
    ended: bool = False

    def __post_init__(self) -> None:
        self.topic = self.key.encode()

    def stats(self) -> dict[str, Any]:
        return {"seq": self.seq, "sent": self.sent, "dropped": self.dropped, "epoch": self.epoch}


@dataclass
class EdgeIn:
    key: str
    port: str
    policy: str
    epoch: int | None = None
    next_seq: int = 0
    received: int = 0
    lost: int = 0
    superseded: int = 0
    reordered: int = 0
    ended: bool = False

    def accept(self, epoch: int, seq: int) -> None:
        if epoch != self.epoch:
            # A new sender (first message, or the sender restarted): its numbering starts again.
            self.epoch, self.next_seq = epoch, 0
        if seq > self.next_seq:
            self.lost += seq - self.next_seq
        elif seq < self.next_seq:
            self.reordered += 1
        self.next_seq = max(self.next_seq, seq + 1)

    def stats(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "next_seq": self.next_seq, "received": self.received,
                "lost": self.lost, "superseded": self.superseded, "reordered": self.reordered,
                "ended": self.ended}


class Outbox:
    """The outgoing edges of one node, by output port."""

    def __init__(self, ctx: zmq.Context, edges: list[dict], epoch: int) -> None:
        self.by_port: dict[str, list[EdgeOut]] = {}
        self.edges: list[EdgeOut] = []
        for e in edges:
            sock = ctx.socket(zmq.PUSH)
            latest = e["policy"] == "latest"
            sock.setsockopt(zmq.SNDHWM, LATEST_HWM if latest else HWM)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDTIMEO, 50)
            sock.connect(e["endpoint"])
            out = EdgeOut(e["key"], e["policy"], sock, epoch)
            self.by_port.setdefault(e["src_port"], []).append(out)
            self.edges.append(out)
        self.blocked_s = 0.0

    def send(self, port: str, msg: Message, stop: threading.Event) -> None:
        for edge in self.by_port.get(port, ()):
            frames = wire.encode(msg, edge.seq, edge.epoch, edge.topic)
            edge.seq += 1
            self._send(edge, frames, stop)

    def end(self, stop: threading.Event) -> None:
        """Mark the end of every outgoing stream (after all data, on the same sockets)."""
        for edge in self.edges:
            if not edge.ended:
                edge.ended = True
                self._send(edge, wire.end_of_stream(edge.seq, edge.epoch, edge.topic), stop, count=False)

    def _send(self, edge: EdgeOut, frames: list, stop: threading.Event, count: bool = True) -> None:
        sock = edge.socket
        if edge.policy == "latest" and count:
            try:
                sock.send_multipart(frames, zmq.NOBLOCK, copy=False)
                edge.sent += 1
            except zmq.Again:
                edge.dropped += 1
            return
        try:
            sock.send_multipart(frames, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            # The receiver is behind: wait inside ZeroMQ (SNDTIMEO bounds each wait, so a
            # stop request is still seen), which costs far less than polling from Python.
            t0 = wire.now()
            while True:
                if stop.is_set():
                    raise Stopped
                try:
                    sock.send_multipart(frames, copy=False)
                    break
                except zmq.Again:
                    pass
            self.blocked_s += wire.now() - t0
        if count:
            edge.sent += 1

    def close(self, linger_ms: int | None = None) -> None:
        for edge in self.edges:
            if linger_ms is not None:
                edge.socket.setsockopt(zmq.LINGER, linger_ms)
            edge.socket.close()

    def stats(self) -> dict[str, dict]:
        return {e.key: e.stats() for e in self.edges}


@dataclass
class Inbox:
    """The PULL socket of one node and the accounting of its incoming edges."""

    ctx: zmq.Context
    endpoints: list[str]
    edges: list[dict]
    resume: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.socket = self.ctx.socket(zmq.PULL)
        self.socket.setsockopt(zmq.RCVHWM, HWM)
        self.socket.setsockopt(zmq.LINGER, 0)
        for endpoint in self.endpoints:
            self.socket.bind(endpoint)
        self.by_key: dict[str, EdgeIn] = {}
        for e in self.edges:
            edge = EdgeIn(e["key"], e["dst_port"], e["policy"])
            prior = self.resume.get(e["key"])
            if prior:  # carry numbering over a restart, so messages lost in between show as gaps
                edge.epoch, edge.next_seq = prior.get("epoch"), prior.get("next_seq", 0)
            self.by_key[e["key"]] = edge
        self.rejected = 0
        self.last_error = ""
        self.poller = zmq.Poller()  # one poller, reused: Socket.poll builds a new one per call
        self.poller.register(self.socket, zmq.POLLIN)

    @property
    def all_ended(self) -> bool:
        return all(e.ended for e in self.by_key.values())

    def poll(self, timeout_ms: float) -> bool:
        return bool(self.poller.poll(max(0, int(timeout_ms))))

    def drain(self, max_messages: int = 256) -> list[tuple[str, Message]]:
        """Messages waiting now (at most max_messages), in arrival order, with the newest
        only for `latest` edges. Malformed messages are counted and skipped."""
        got: list[tuple[EdgeIn, Message]] = []
        nbytes = 0
        for _ in range(max_messages):
            if nbytes > MAX_BATCH_BYTES:  # large messages: hand them over while they are in cache
                break
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            try:
                topic, header, msg = wire.decode(frames)
                edge = self.by_key.get(topic)
                if edge is None:
                    raise wire.WireError(f"message for unknown edge {topic!r}")
            except wire.WireError as exc:
                self.rejected += 1
                self.last_error = str(exc)
                continue
            edge.accept(header["e"], header["q"])
            if msg is None:
                edge.ended = True
                continue
            edge.received += 1
            got.append((edge, msg))
            if len(frames) > 2:
                nbytes += sum(len(f) for f in frames[2:])
        latest = {}
        for i, (edge, _) in enumerate(got):
            if edge.policy == "latest":
                if edge.key in latest:
                    edge.superseded += 1
                latest[edge.key] = i
        return [(edge.port, msg) for i, (edge, msg) in enumerate(got)
                if edge.policy != "latest" or latest[edge.key] == i]

    def end(self, keys: list[str]) -> None:
        """Upstream nodes that died for good: treat their edges as ended."""
        for key in keys:
            if key in self.by_key:
                self.by_key[key].ended = True

    def close(self) -> None:
        self.socket.close()

    def stats(self) -> dict[str, dict]:
        return {k: e.stats() for k, e in self.by_key.items()}
