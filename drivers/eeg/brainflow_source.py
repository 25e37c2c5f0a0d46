"""`eeg.brainflow`: any BrainFlow board (the synthetic board needs no hardware)."""
from __future__ import annotations

import difflib
import logging
import time
import warnings

import numpy as np
from pydantic import Field, field_validator

from streamer import streams
from streamer.node import Params, Port, Source
from streamer.paths import InputPath
from streamer.streams import MARKER, SAMPLES

log = logging.getLogger(__name__)

# Channel groups of BrainFlow's board descriptions and the MNE type of each.
GROUPS = {"eeg": "eeg", "emg": "emg", "eog": "eog", "ecg": "ecg", "exg": "eeg"}


def board_id(board: str | int) -> int:
    """A BrainFlow board id from an id or a name ('synthetic', 'cyton', 'CYTON_DAISY_BOARD')."""
    from brainflow.board_shim import BoardIds

    if isinstance(board, int) or (isinstance(board, str) and board.lstrip("-").isdigit()):
        value = int(board)
        if value not in {b.value for b in BoardIds}:
            raise ValueError(f"unknown BrainFlow board id {value}")
        return value
    names = {b.name: b.value for b in BoardIds}
    key = board.upper().replace("-", "_").replace(" ", "_")
    for candidate in (key, key + "_BOARD"):
        if candidate in names:
            return names[candidate]
    short = {n.removesuffix("_BOARD").lower(): n for n in names}
    close = difflib.get_close_matches(board.lower(), list(short), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown BrainFlow board {board!r}{hint} (names of brainflow.BoardIds, "
                     "e.g. synthetic, cyton, ganglion, playback_file)")


class BrainFlowSource(Source):
    """Streams a BrainFlow board: channel names and types from BrainFlow's board
    description, values in volts, BrainFlow's per-sample timestamps in `times`, and the
    marker channel as Markers. A board that drops out mid-run is reopened (`retries`
    times, with back-off) and each reconnection counted."""

    outputs = {"out": Port(SAMPLES), "markers": Port(MARKER, "values of the board's marker channel")}

    class Params(Params):
        board: str = Field("synthetic", description="board name (brainflow BoardIds, e.g. cyton) or id")
        serial_port: str = Field("", description="serial port (Cyton, Ganglion dongle...)")
        ip_address: str = Field("", description="IP address of network boards")
        ip_port: int = Field(0, description="IP port of network boards")
        mac_address: str = Field("", description="Bluetooth MAC address")
        serial_number: str = Field("", description="serial number")
        file: InputPath = Field("", description="file to play back (playback_file board)")
        master_board: str = Field("", description="board the playback file was recorded from")
        other_info: str = Field("", description="board-specific options")
        timeout_s: int = Field(0, ge=0, description="discovery timeout")
        channels: str = Field("eeg", description="channel group: eeg, emg, eog, ecg or exg")
        poll_ms: float = Field(20.0, gt=0, description="how often the board buffer is read")
        retries: int = Field(3, ge=0, description="reconnections tried when the board drops out")

        @field_validator("channels")
        @classmethod
        def _group(cls, v: str) -> str:
            if v not in GROUPS:
                raise ValueError(f"channels must be one of {', '.join(GROUPS)}, not {v!r}")
            return v

    @classmethod
    def check(cls, params: "BrainFlowSource.Params") -> list[tuple[str, str]]:
        """Board names and the channel group, from BrainFlow's board descriptions (no device opened)."""
        with warnings.catch_warnings():  # brainflow's own import warns about pkg_resources
            warnings.simplefilter("ignore")
            from brainflow.board_shim import BoardShim

        found = []
        ids = {}
        for key in ("board", "master_board"):
            try:
                ids[key] = board_id(getattr(params, key)) if getattr(params, key) else None
            except ValueError as exc:
                found.append((key, str(exc)))
        descr_id = ids.get("master_board") if ids.get("master_board") is not None else ids.get("board")
        if not found and descr_id is not None:
            if not BoardShim.get_board_descr(descr_id).get(f"{params.channels}_channels"):
                found.append(("channels", f"board {params.board!r} has no {params.channels} channels; "
                                            f"choose another group of {', '.join(GROUPS)}"))
        return found

    def start(self) -> None:
        from brainflow.board_shim import BoardShim, BrainFlowInputParams

        p = self.params
        self.board_id = board_id(p.board)
        ip = BrainFlowInputParams()
        ip.serial_port, ip.ip_address, ip.ip_port = p.serial_port, p.ip_address, p.ip_port
        ip.mac_address, ip.serial_number, ip.file = p.mac_address, p.serial_number, p.file
        ip.other_info, ip.timeout = p.other_info, p.timeout_s
        descr_id = self.board_id
        if p.master_board:
            ip.master_board = board_id(p.master_board)
            descr_id = ip.master_board
        BoardShim.disable_board_logger()
        self.shim = BoardShim(self.board_id, ip)
        descr = BoardShim.get_board_descr(descr_id)
        self.sfreq = float(descr["sampling_rate"])
        self.rows = list(descr.get(f"{p.channels}_channels", []))
        if not self.rows:
            raise ValueError(f"board {p.board!r} has no {p.channels} channels")
        names = [n for n in descr.get("eeg_names", "").split(",") if n] if p.channels in ("eeg", "exg") else []
        self.names = names if len(names) == len(self.rows) else [f"{p.channels.upper()}{i + 1}" for i in range(len(self.rows))]
        self.type = GROUPS[p.channels]
        self.ts_row = descr.get("timestamp_channel")
        self.marker_row = descr.get("marker_channel")
        self.sent = 0
        self._open()

    def _where(self) -> str:
        p = self.params
        place = p.serial_port or p.ip_address or p.mac_address or p.file
        return f"board {p.board!r}" + (f" on {place}" if place else "")

    def _open(self) -> None:
        from brainflow.board_shim import BrainFlowError

        try:
            self.shim.prepare_session()
            self.shim.start_stream(45000 * 4)
        except BrainFlowError as exc:
            try:
                self.shim.release_session()
            except BrainFlowError:
                pass
            raise ConnectionError(f"cannot open {self._where()}: {exc}. Check that it is switched on, "
                                  "connected, and that the port/address is right") from None
        self.next_poll = time.monotonic()

    def produce(self) -> dict | None:
        from brainflow.board_shim import BrainFlowError

        wait = self.next_poll - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, 0.05))
            return None
        self.next_poll += self.params.poll_ms / 1e3
        try:
            data = self.shim.get_board_data()
        except BrainFlowError as exc:
            self._reconnect(exc)
            return None
        if data.shape[1] == 0:
            return None
        t_origin = streams.now()
        times = data[self.ts_row] if self.ts_row is not None else None
        signal = data[self.rows] * (1e-6 if self.type in ("eeg", "emg", "eog", "ecg") else 1.0)
        out = {"out": streams.samples(signal, sfreq=self.sfreq, ch_names=self.names,
                                      ch_types=[self.type] * len(self.rows),
                                      t_first_s=float(times[0]) if times is not None else self.sent / self.sfreq,
                                      first_sample=self.sent, times=times, t_origin=t_origin,
                                      board=self.params.board)}
        self.sent += data.shape[1]
        if self.marker_row is not None:
            idx = np.flatnonzero(data[self.marker_row])
            if idx.size:
                out["markers"] = [streams.marker(f"{data[self.marker_row, i]:g}", float(data[self.marker_row, i]),
                                                 time_s=float(times[i]) if times is not None else float("nan"),
                                                 source=self.params.board, t_origin=t_origin) for i in idx]
        return out

    def _reconnect(self, error: Exception) -> None:
        for attempt in range(1, self.params.retries + 1):
            log.warning("%s dropped out (%s); reconnecting, attempt %d", self._where(), error, attempt)
            self.count("reconnects")
            try:
                self.shim.release_session()
            except Exception:  # noqa: BLE001 - it is already broken
                pass
            time.sleep(min(2.0, 0.2 * 2 ** attempt))
            try:
                self._open()
                return
            except ConnectionError as exc:
                error = exc
        raise ConnectionError(f"{self._where()} dropped out and did not come back after "
                              f"{self.params.retries} attempts: {error}")

    def stop(self) -> None:
        shim = getattr(self, "shim", None)
        if shim is not None and shim.is_prepared():
            try:
                shim.stop_stream()
            except Exception:  # noqa: BLE001
                pass
            shim.release_session()
