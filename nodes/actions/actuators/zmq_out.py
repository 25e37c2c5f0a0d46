"""Commands to a ZeroMQ PUB or PUSH socket."""
from __future__ import annotations

from typing import Literal

import zmq
from pydantic import Field

from .base import Actuator, ActuatorParams, encode


class ZmqActuator(Actuator):
    """Sends each command on a ZeroMQ socket as JSON or msgpack.

    PUB: two frames [topic, payload] (subscribers filter on the topic); PUSH: one frame
    [payload]. The socket binds `endpoint` (or connects, with bind: false). Sends never
    block: when no peer takes them (PUSH without a puller, full high-water mark) the
    command is counted in `dropped`.
    """

    class Params(ActuatorParams):
        endpoint: str = Field("tcp://127.0.0.1:5700", description="ZeroMQ endpoint")
        socket: Literal["pub", "push"] = Field("pub", description="socket type")
        bind: bool = Field(True, description="bind the endpoint (else connect to it)")
        topic: str = Field("command", description="topic frame of PUB messages")
        sndhwm: int = Field(1000, ge=1, description="send high-water mark (messages)")
        linger_ms: int = Field(200, ge=0, description="how long close() may flush pending sends")

    def start(self) -> None:
        p = self.params
        self._ctx = zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PUB if p.socket == "pub" else zmq.PUSH)
        self._sock.setsockopt(zmq.SNDHWM, p.sndhwm)
        self._sock.setsockopt(zmq.LINGER, p.linger_ms)
        try:
            (self._sock.bind if p.bind else self._sock.connect)(p.endpoint)
        except zmq.ZMQError as exc:
            self._sock.close(0)
            raise RuntimeError(f"{self.name}: cannot {'bind' if p.bind else 'connect'} "
                               f"{p.endpoint!r}: {exc} (is the port in use? change `endpoint`)") from None

    def send(self, payload: dict) -> bool:
        data = encode(payload, self.params.format)
        frames = [self.params.topic.encode(), data] if self.params.socket == "pub" else [data]
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.count("dropped")
            return False
        return True

    def stop(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()
            self._sock = None
