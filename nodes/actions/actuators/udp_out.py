"""Commands as UDP datagrams."""
from __future__ import annotations

import socket

from pydantic import Field, field_validator

from .base import Actuator, ActuatorParams, encode, parse_address

DEFAULT_PORT = 5701


class UdpActuator(Actuator):
    """Sends each command as one UDP datagram (JSON or msgpack) to `address`."""

    class Params(ActuatorParams):
        address: str = Field(f"127.0.0.1:{DEFAULT_PORT}",
                             description=f"destination host:port (port {DEFAULT_PORT} if omitted)")

        @field_validator("address")
        @classmethod
        def _address(cls, v: str) -> str:
            parse_address(v, DEFAULT_PORT)
            return v

    def start(self) -> None:
        host, port = parse_address(self.params.address, DEFAULT_PORT)
        try:
            self._addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise RuntimeError(f"{self.name}: cannot resolve host {host!r}: {exc}") from None
        self._sock = socket.socket(self._addr[0], socket.SOCK_DGRAM)

    def send(self, payload: dict) -> None:
        self._sock.sendto(encode(payload, self.params.format), self._addr[4])

    def stop(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self._sock.close()
            self._sock = None
