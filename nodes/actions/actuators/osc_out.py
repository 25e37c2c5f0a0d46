"""Commands as OSC messages over UDP (TouchDesigner, Max/MSP, SuperCollider, robots)."""
from __future__ import annotations

import socket

from pydantic import Field, field_validator

from .base import Actuator, SafeParams, parse_address
from .osc_codec import encode_message

DEFAULT_PORT = 9000


class OscActuator(Actuator):
    """Sends each command as one OSC 1.0 message in one UDP datagram.

    Address: `<address_prefix>/<action>`; arguments: the command's value (a number, a
    string, a bool, or a list of them; none when the value is null). Floats go as
    float32 ('f') unless `double` is set.
    """

    class Params(SafeParams):
        address: str = Field(f"127.0.0.1:{DEFAULT_PORT}",
                             description=f"destination host:port (port {DEFAULT_PORT} if omitted)")
        address_prefix: str = Field("/streamer", description="OSC address before /<action>")
        double: bool = Field(False, description="send floats as float64 ('d') instead of float32")

        @field_validator("address")
        @classmethod
        def _address(cls, v: str) -> str:
            parse_address(v, DEFAULT_PORT)
            return v

        @field_validator("address_prefix")
        @classmethod
        def _prefix(cls, v: str) -> str:
            if v and not v.startswith("/"):
                raise ValueError(f"address_prefix must start with '/', got {v!r}")
            return v

    def start(self) -> None:
        p = self.params
        host, port = parse_address(p.address, DEFAULT_PORT)
        try:
            self._addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise RuntimeError(f"{self.name}: cannot resolve host {host!r}: {exc}") from None
        self._sock = socket.socket(self._addr[0], socket.SOCK_DGRAM)

    def send(self, payload: dict) -> None:
        address = f"{self.params.address_prefix.rstrip('/')}/{payload['action']}"
        self._sock.sendto(encode_message(address, payload["value"], self.params.double), self._addr[4])

    def stop(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self._sock.close()
            self._sock = None
