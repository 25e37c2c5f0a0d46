"""Commands as UDP datagrams."""
from __future__ import annotations

import socket

from pydantic import Field

from .base import Actuator, ActuatorParams, encode


class UdpActuator(Actuator):
    """Sends each command as one UDP datagram (JSON or msgpack) to host:port."""

    class Params(ActuatorParams):
        host: str = Field("127.0.0.1", description="destination host")
        port: int = Field(5701, ge=1, le=65535, description="destination UDP port")

    def start(self) -> None:
        p = self.params
        try:
            self._addr = socket.getaddrinfo(p.host, p.port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise RuntimeError(f"{self.name}: cannot resolve host {p.host!r}: {exc}") from None
        self._sock = socket.socket(self._addr[0], socket.SOCK_DGRAM)

    def send(self, payload: dict) -> None:
        self._sock.sendto(encode(payload, self.params.format), self._addr[4])

    def stop(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self._sock.close()
            self._sock = None
