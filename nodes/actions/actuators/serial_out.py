"""Commands to a serial port (Arduino, motor controllers), one line each."""
from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from .base import Actuator, SafeParams, _plain


class SerialActuator(Actuator):
    """Writes each command as one line to a serial port (pyserial).

    format 'json': the payload as one JSON object per line; 'text': `template` filled
    with the payload's fields (action, value, safety, t_origin, t_sent), e.g. "{action}
    {value}" for a microcontroller that parses words. Lines end with `eol`.
    """

    class Params(SafeParams):
        device: str = Field(description="serial device (/dev/ttyUSB0, COM3) or a pyserial URL")
        baudrate: int = Field(115200, gt=0, description="baud rate")
        format: Literal["json", "text"] = Field("json", description="line format")
        template: str = Field("{action} {value}", description="line for format 'text'")
        eol: str = Field("\n", description="line ending")
        write_timeout_s: float = Field(0.1, gt=0, description="give up a write after this long")

    def start(self) -> None:
        import serial  # pyserial; imported here so that other actuators do not need it

        p = self.params
        try:
            self._port = serial.serial_for_url(p.device, baudrate=p.baudrate,
                                               write_timeout=p.write_timeout_s)
        except (serial.SerialException, ValueError) as exc:
            raise RuntimeError(f"{self.name}: cannot open serial port {p.device!r}: {exc} "
                               "(check the device name and that no other program holds it)") from None

    def line(self, payload: dict) -> bytes:
        p = self.params
        if p.format == "json":
            text = json.dumps(payload, default=_plain, separators=(",", ":"))
        else:
            text = p.template.format(**payload)
        return (text + p.eol).encode()

    def send(self, payload: dict) -> None:
        self._port.write(self.line(payload))

    def stop(self) -> None:
        if getattr(self, "_port", None) is not None:
            self._port.close()
            self._port = None
