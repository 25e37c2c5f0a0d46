"""ZeroMQ transport: one PULL inbox per node, one PUSH per outgoing edge.

Every node binds one PULL socket (ipc in the run directory, tcp when asked, and inproc
when it shares a process with other nodes); the topic frame names the edge, so the
receiver knows the port and keeps per-edge sequence numbers. Delivery policies:

- lossless: the sender waits (polling, so that it can still be stopped) while the
  receiver's queue is full; nothing is dropped.
- latest: the sender never waits; what does not fit is dropped and counted, and the
  receiver keeps only the newest of the messages waiting on that edge (the others are
  counted as superseded).

Accounting, per edge (`streamer.counters` keeps it across restarts): every message a node
emits on an edge is either put on the wire, taking the next sequence number, or dropped
(a full `latest` edge, a detached receiver, a stop). The receiver expects consecutive
numbers: a gap is counted as lost, once; a number it has already seen, one from another
run, or a jump of more than MAX_GAP is refused as not belonging to the stream. So

    sent = received + lost + rejected + dropped + queued (on the wire, not yet received)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import zmq

from . import security, wire
from .counters import (DROPPED, IN_ENDED, IN_FIELDS, IN_REJECTED, LOST, NEXT_SEQ, OUT_ENDED,
                       OUT_FIELDS, RECEIVED, SEQ, SUPERSEDED, SlotView, Slots, layout, slot_count)
from .streams import InvalidMessage, Message, now, validate

HWM = 64           # messages queued per lossless edge on each side
LATEST_HWM = 1
MAX_BATCH_BYTES = 1 << 18
# The largest gap a real stream can show: what a killed peer held in its queues and the
# kernel's socket buffers. A larger jump is not loss but a message that is not ours.
MAX_GAP = 1 << 16

Abort = Callable[[], bool]
# Flags as plain ints: or-ing pyzmq's enum flags costs a microsecond per message part.
NOBLOCK, SNDMORE = int(zmq.NOBLOCK), int(zmq.SNDMORE)


class Stopped(Exception):
    """The node was asked to stop while waiting to send."""


def memory_slots(in_keys: list[str], out_keys: list[str]) -> tuple[Slots, dict]:
    return Slots(slot_count(in_keys, out_keys)), layout(in_keys, out_keys)


@dataclass
class EdgeOut:
    key: str
    policy: str
    socket: zmq.Socket
    c: SlotView
    detached: bool = False
    min_interval_s: float = 0.0  # a rate-limited `latest` edge: sends no sooner than this
    t_next: float = 0.0

    def __post_init__(self) -> None:
        self.topic = self.key.encode()

    def stats(self) -> dict[str, Any]:
        return self.c.as_dict(OUT_FIELDS)


class EdgeIn:
    """One incoming edge: its port, policy and counters, and the sequence check."""

    def __init__(self, key: str, port: str, policy: str, c: SlotView) -> None:
        self.key, self.port, self.policy, self.c = key, port, policy, c

    @property
    def ended(self) -> bool:
        return bool(self.c[IN_ENDED])

    def check(self, seq: int) -> str:
        """Why a message numbered `seq` does not belong to this stream ('' if it does)."""
        expected = self.c[NEXT_SEQ]
        if seq < expected:
            return f"sequence number {seq} on {self.key!r} already seen (next is {expected})"
        if seq - expected > MAX_GAP:
            return (f"sequence number {seq} on {self.key!r} jumps {seq - expected} ahead "
                    f"(more than {MAX_GAP}); not counted as loss")
        return ""

    def accept(self, seq: int) -> None:
        """Take number `seq` (checked): numbers skipped over are lost."""
        c = self.c
        gap = seq - c[NEXT_SEQ]
        if gap:
            c.add(LOST, gap)
        c[NEXT_SEQ] = seq + 1

    def stats(self) -> dict[str, Any]:
        return self.c.as_dict(IN_FIELDS)


class Outbox:
    """The outgoing edges of one node, by output port."""

    def __init__(self, ctx: zmq.Context, edges: list[dict], epoch: int,
                 slots: Slots | None = None, where: dict | None = None, curve: dict | None = None) -> None:
        if slots is None:
            slots, where = memory_slots([], [e["key"] for e in edges])
        self.epoch = epoch
        self.by_port: dict[str, list[EdgeOut]] = {}
        self.edges: list[EdgeOut] = []
        for e in edges:
            sock = ctx.socket(zmq.PUSH)
            latest = e["policy"] == "latest"
            sock.setsockopt(zmq.SNDHWM, LATEST_HWM if latest else HWM)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDTIMEO, 50)
            if e.get("server_key"):  # a tcp edge: CURVE (streamer.security)
                security.client(sock, curve, e["server_key"])
            sock.connect(e["endpoint"])
            out = EdgeOut(e["key"], e["policy"], sock, slots.view(where[("out", e["key"])], len(OUT_FIELDS)))
            if latest and e.get("max_rate_hz"):
                out.min_interval_s = 1.0 / e["max_rate_hz"]
            self.by_port.setdefault(e["src_port"], []).append(out)
            self.edges.append(out)
        self.blocked_s = 0.0
        self.packer = wire.packer()  # the outbox is used by its node's thread alone

    def send(self, port: str, msg: Message, abort: Abort) -> None:
        """Send on every edge of `port`; `abort()` says when to give up waiting (Stopped)."""
        for edge in self.by_port.get(port, ()):
            c = edge.c
            if edge.detached:
                c.add(DROPPED)
                continue
            if edge.min_interval_s:
                t = now()
                if t < edge.t_next:
                    c.add(DROPPED)
                    continue
                edge.t_next = t + edge.min_interval_s
            seq = c[SEQ]
            frames = wire.encode(msg, seq, self.epoch, edge.topic, self.packer)
            # The number is taken before the send: a process killed in between leaves a
            # gap (the message is lost), never a number used twice.
            c[SEQ] = seq + 1
            if not self._send(edge, frames, abort, latest=edge.policy == "latest"):
                c[SEQ] = seq
                c.add(DROPPED)

    def end(self, abort: Abort) -> None:
        """Mark the end of every outgoing stream (after all data, on the same sockets)."""
        for edge in self.edges:
            if not edge.c[OUT_ENDED] and not edge.detached:
                frames = wire.end_of_stream(edge.c[SEQ], self.epoch, edge.topic)
                try:
                    if self._send(edge, frames, abort, latest=False):
                        edge.c[OUT_ENDED] = 1
                except Stopped:
                    # A `latest` receiver (a viewer) that is behind is not waited for on a
                    # stop: its end is not sent, the node's last words still count.
                    if edge.policy != "latest":
                        raise

    def end_again(self, keys: list[str], abort: Abort) -> None:
        """Send the end of the streams `keys` once more, to a receiver that was restarted
        after it (it takes no number: a receiver that already has it sees nothing new)."""
        for edge in self.edges:
            if edge.key in keys and edge.c[OUT_ENDED] and not edge.detached:
                try:
                    self._send(edge, wire.end_of_stream(edge.c[SEQ], self.epoch, edge.topic), abort, latest=False)
                except Stopped:
                    return

    def detach(self, keys: list[str]) -> None:
        """Receivers that failed for good: never wait for them again; what this node
        emits for them is counted as dropped."""
        for edge in self.edges:
            if edge.key in keys:
                edge.detached = True

    def _send(self, edge: EdgeOut, frames: list, abort: Abort, latest: bool) -> bool:
        """True once the frames are on the wire; False if dropped (a full `latest` edge,
        or a detached one); raises Stopped when `abort()` says so while waiting."""
        sock = edge.socket
        try:
            _send_frames(sock, frames, NOBLOCK)
            return True
        except zmq.Again:
            if latest:
                return False
        # The receiver is behind: wait inside ZeroMQ (SNDTIMEO bounds each wait, so a
        # stop request is still seen), which costs far less than polling from Python.
        t0 = now()
        try:
            while True:
                if edge.detached:
                    return False
                if abort():
                    raise Stopped
                try:
                    _send_frames(sock, frames, 0)
                    return True
                except zmq.Again:
                    pass
        finally:
            self.blocked_s += now() - t0

    def close(self, linger_ms: int | None = None) -> None:
        for edge in self.edges:
            if linger_ms is not None:
                edge.socket.setsockopt(zmq.LINGER, linger_ms)
            edge.socket.close()

    def stats(self) -> dict[str, dict]:
        return {e.key: e.stats() for e in self.edges}


def _send_frames(sock: zmq.Socket, frames: list, flags: int) -> None:
    """send_multipart without its per-part checks: the topic and header are bytes (copied),
    the array buffers go without a copy. ZeroMQ takes the whole message or none of it
    (Again on the first part)."""
    last = len(frames) - 1
    sock.send(frames[0], flags | SNDMORE if last else flags)
    for i in range(1, last + 1):
        sock.send(frames[i], flags | SNDMORE if i < last else flags, copy=i < 2)


def _recv_frames(sock: zmq.Socket) -> list:
    """The parts of the next message (raises zmq.Again when none is waiting); the parts
    of a message arrive together, so only the first may be waited for."""
    frame = sock.recv(NOBLOCK, copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(NOBLOCK, copy=False)
        frames.append(frame)
    return frames


@dataclass
class Inbox:
    """The PULL socket of one node and the accounting of its incoming edges.

    Messages are checked in three steps: the wire format (wire.decode), the sequence
    (the epoch of this run, no number twice, no implausible jump), and the stream type's
    shape (streams.validate). What fails is counted in `rejected` with `last_error`."""

    ctx: zmq.Context
    endpoints: list[str]
    edges: list[dict]
    epoch: int
    slots: Slots | None = None
    where: dict | None = None
    # Ports whose edges do not keep the node running (an operator's control): the node ends
    # once every other edge has ended.
    control_ports: tuple[str, ...] = ()
    # This node's CURVE keys: its tcp endpoints are CURVE servers (streamer.security).
    curve: dict | None = None
    rejected: int = field(default=0, init=False)
    last_error: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.slots is None:
            self.slots, self.where = memory_slots([e["key"] for e in self.edges], [])
        self.socket = self.ctx.socket(zmq.PULL)
        self.socket.setsockopt(zmq.RCVHWM, HWM)
        self.socket.setsockopt(zmq.LINGER, 0)
        for endpoint in self.endpoints:
            tcp = self.curve is not None and endpoint.startswith("tcp://")
            if tcp:
                security.server(self.socket, self.curve)
            self.socket.bind(endpoint)
            if tcp:
                security.plain(self.socket)
        self.by_key: dict[str, EdgeIn] = {
            e["key"]: EdgeIn(e["key"], e["dst_port"], e["policy"],
                             self.slots.view(self.where[("in", e["key"])], len(IN_FIELDS)))
            for e in self.edges}
        self.any_latest = any(e.policy == "latest" for e in self.by_key.values())
        self.poller = zmq.Poller()  # one poller, reused: Socket.poll builds a new one per call
        self.poller.register(self.socket, zmq.POLLIN)

    @property
    def all_ended(self) -> bool:
        data = [e for e in self.by_key.values() if e.port not in self.control_ports]
        return all(e.ended for e in (data or self.by_key.values()))

    def poll(self, timeout_ms: float) -> bool:
        return bool(self.poller.poll(max(0, int(timeout_ms))))

    def watch(self, fd: int) -> None:
        """Let `poll` also return when `fd` becomes readable (a node's wake-up pipe)."""
        self.poller.register(fd, zmq.POLLIN)

    def reject(self, why: str) -> None:
        self.rejected += 1
        self.last_error = why[:500]

    def drain(self, max_messages: int = 256) -> list[tuple[str, Message]]:
        """Messages waiting now (at most max_messages), in arrival order, with the newest
        only for `latest` edges. Malformed messages are counted and skipped."""
        got: list[tuple[EdgeIn, Message]] = []
        nbytes = 0
        sock, by_key, epoch = self.socket, self.by_key, self.epoch
        for _ in range(max_messages):
            if nbytes >= MAX_BATCH_BYTES:  # large messages: hand them over while they are in cache
                break
            try:
                frames = _recv_frames(sock)
            except zmq.Again:
                break
            try:
                topic, header, msg = wire.decode(frames)
            except wire.WireError as exc:
                self.reject(str(exc))
                continue
            edge = by_key.get(topic)
            if edge is None:
                self.reject(f"message for unknown edge {topic[:100]!r}")
                continue
            if header["e"] != epoch:
                self.reject(f"message on {topic!r} from another run (epoch {header['e']})")
                continue
            seq = header["q"]
            c = edge.c
            if seq != c[NEXT_SEQ]:  # the usual case, the next number, needs no check
                why = edge.check(seq)
                if why:
                    self.reject(why)
                    continue
            if msg is None:  # end of stream: it takes no number, but shows a gap before it
                edge.accept(seq)
                c[NEXT_SEQ] = seq
                c[IN_ENDED] = 1
                continue
            edge.accept(seq)
            try:
                validate(msg)
            except InvalidMessage as exc:
                c.add(IN_REJECTED)
                self.reject(f"{topic}: {exc}")
                continue
            c.add(RECEIVED)
            got.append((edge, msg))
            for f in frames[2:]:
                nbytes += len(f)
        if not self.any_latest:
            return [(edge.port, msg) for edge, msg in got]
        latest = {}
        for i, (edge, _) in enumerate(got):
            if edge.policy == "latest":
                if edge.key in latest:
                    edge.c.add(SUPERSEDED)
                latest[edge.key] = i
        return [(edge.port, msg) for i, (edge, msg) in enumerate(got)
                if edge.policy != "latest" or latest[edge.key] == i]

    def end(self, keys: list[str]) -> None:
        """Upstream nodes that died for good: treat their edges as ended."""
        for key in keys:
            if key in self.by_key:
                self.by_key[key].c[IN_ENDED] = 1

    def close(self) -> None:
        self.socket.close()

    def stats(self) -> dict[str, dict]:
        return {k: e.stats() for k, e in self.by_key.items()}
