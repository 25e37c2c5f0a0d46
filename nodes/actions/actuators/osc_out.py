"""Commands as OSC messages over UDP (TouchDesigner, Max/MSP, SuperCollider, robots)."""
from __future__ import annotations

import socket

from pydantic import Field

from .base import Actuator
from .osc_codec import encode_message
import streamer.node


class OscActuator(Actuator):
    """Sends each command as one OSC 1.0 message in one UDP datagram.

    Address: `<address_prefix>/<action>`; arguments: the command's value (a number, a
    string, a bool, or a list of them; none when the value is null). Floats go as
    float32 ('f') unless `double` is set.
    """

    class Params(streamer.node.Params):
        host: str = Field("127.0.0.1", description="destination host")
        port: int = Field(9000, ge=1, le=65535, description="destination UDP port")
        address_prefix: str = Field("/streamer", description="OSC address before /<action>")
        double: bool = Field(False, description="send floats as float64 ('d') instead of float32")

    def start(self) -> None:
        p = self.params
        if not p.address_prefix.startswith("/") and p.address_prefix:
            raise ValueError(f"{self.name}: address_prefix must start with '/', got {p.address_prefix!r}")
        try:
            self._addr = socket.getaddrinfo(p.host, p.port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise RuntimeError(f"{self.name}: cannot resolve host {p.host!r}: {exc}") from None
        self._sock = socket.socket(self._addr[0], socket.SOCK_DGRAM)

    def send(self, payload: dict) -> None:
        address = f"{self.params.address_prefix.rstrip('/')}/{payload['action']}"
        self._sock.sendto(encode_message(address, payload["value"], self.params.double), self._addr[4])

    def stop(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self._sock.close()
            self._sock = None
