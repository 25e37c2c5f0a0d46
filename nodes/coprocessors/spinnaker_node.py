"""coprocessor.spinnaker: a NIR spiking network on SpiNNaker through sPyNNaker (PyNN)."""
from __future__ import annotations

import os
import queue
import socket
import tempfile
import threading
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from nodes.snn.classifier import ClassifierNode, ClassifierParams
from streamer.node import Port
from streamer.paths import OutputPath
from streamer.streams import EVENTS, Message

from .spinnaker_wire import eieio_packets, frame_keys, spif_words

SCP_PORT = 17893
NEURONS_PER_CORE = 256         # sPyNNaker's default for IF_curr_* populations
CORES_PER_BOARD = 48 * 16      # SpiNN-5: 48 chips, 16 application cores each (monitor excluded)
IF_TAU_M_MS = 32_000.0         # a leak-free IF as a LIF with the longest τ SpiNNaker's S16.15 holds
MAX_COUNT = 255                # spikes one input sends in one step (as coprocessor.loihi injects)


class SpiNNaker(ClassifierNode):
    """Classifies frames with a NIR spiking network on SpiNNaker (sPyNNaker / PyNN).

    Each spiking layer becomes a PyNN population (IF and LIF: IF_curr_delta, CubaLIF:
    IF_curr_exp), each run of linear nodes between them one FromListConnector projection
    of the normalised weights (threshold 1 mV, reset 0 mV, bias as i_offset); the
    approximations are listed in `self.approximations`. The input is a SpikeInjector fed
    with EIEIO packets (32-bit keys) built here, one per step's input counts; the output
    population's spikes come back through sPyNNaker's live output, each step that has
    spikes as one row, and are decided as in snn.infer (same parameters). The board runs
    freely and cannot be reset between samples: a decision or a marker starts a new sample
    of the early-exit rule, not of the network, so `mode: trial` is refused. Events on `events` go straight to a SPIF
    interface as 32-bit words over UDP. `virtual_board: true` maps the network (placement,
    routing, data generation) without a board and runs `map_steps` steps: nothing comes
    back, the packets that would be sent are counted. The spynnaker.cfg is written from
    these parameters into a fresh run directory. A board that does not answer within
    `connect_timeout_s` is an error at start.
    Input counts above 255 per step are clipped (counted as clipped_inputs).
    Counters: eieio_packets, input_spikes, spif_words, decisions, output_spikes, clipped_inputs.
    """

    TYPE = "coprocessor.spinnaker"
    inputs = {**ClassifierNode.inputs, "events": Port(EVENTS, "DVS events sent to SPIF as they are")}

    class Params(ClassifierParams):
        UNSUPPORTED = {
            "mode": ("trial", "a running SpiNNaker board cannot be reset between trials; use "
                              "mode 'continuous', or snn.infer / coprocessor.loihi for trials"),
            "readout": (("membrane", "membrane_mean"),
                    "the board's membranes are not read back; use readout 'spikes' or 'spikes_mean'")}

        virtual_board: bool = Field(True, description="map without a board (no spikes come back)")
        machine_address: str | None = Field(None, description="IP address of a SpiNNaker board")
        spalloc_server: str | None = Field(None, description="spalloc server URL (instead of an address)")
        version: int = Field(5, description="SpiNNaker board version (5: SpiNN-5, 48 chips)")
        boards: int = Field(1, ge=1, description="boards available (capacity check)")
        time_scale_factor: float | None = Field(None, gt=0, description="slow-down of the board vs real time")
        connect_timeout_s: float = Field(5.0, gt=0, description="seconds a board has to answer")
        map_steps: int = Field(5, ge=1, description="virtual board: steps sim.run maps and runs")
        spif_address: str | None = Field(None, description="SPIF UDP address for `events` (host:port)")
        spif_words_per_packet: int = Field(256, ge=1, le=366, description="words per SPIF datagram")
        run_dir: OutputPath | None = Field(None, description="where spynnaker.cfg and reports go (default: temp)")

        @model_validator(mode="after")
        def _board(self) -> "SpiNNaker.Params":
            if not self.virtual_board and not (self.machine_address or self.spalloc_server):
                raise ValueError("give machine_address or spalloc_server, or set virtual_board: true")
            if self.spif_address is not None and not self.spif_address.rpartition(":")[2].isdigit():
                raise ValueError(f"spif_address {self.spif_address!r} has no port; write host:port")
            return self

    # The node is its own backend: the board's connection and the packets are its state.
    label = "spinnaker"
    depth = 0
    block = 1 << 30
    aligned = False          # the board sends its output rows on its own time
    max_count = MAX_COUNT
    readout_layer = None

    def make_backend(self) -> "SpiNNaker":
        from nodes.snn import load
        from .lowering import stages

        p = self.params
        net = load(p.model, dt=p.dt_s, convention=p.convention, reset=p.reset)
        try:
            self.stages = stages(net, allow_conv=False)
        except ValueError as e:
            raise ValueError(f"coprocessor.spinnaker {self.name!r}: {p.model}: {e}") from None
        cores = sum(-(-s.n_out // NEURONS_PER_CORE) for s in self.stages) + 1  # + the injector
        if cores > p.boards * CORES_PER_BOARD:
            raise ValueError(f"coprocessor.spinnaker {self.name!r}: {p.model} needs {cores} cores at "
                             f"{NEURONS_PER_CORE} neurons per core; {p.boards} board(s) have "
                             f"{p.boards * CORES_PER_BOARD}: raise `boards` or shrink the network")
        if not p.virtual_board and p.machine_address:
            probe_board(p.machine_address, p.connect_timeout_s)
        self.in_shape, self.n_out = tuple(net.in_shape), int(np.prod(net.out_shape))
        self.spikes_in: queue.Queue = queue.Queue()
        self.spif = None
        if p.spif_address:
            host, _, port = p.spif_address.rpartition(":")
            self.spif = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM), (host, int(port)))
        self._build()
        return self

    def _write_cfg(self) -> Path:
        p = self.params
        run = Path(p.run_dir) if p.run_dir else Path(tempfile.mkdtemp(prefix="spinnaker-"))
        run.mkdir(parents=True, exist_ok=True)
        lines = ["[Machine]", f"virtual_board = {p.virtual_board}", f"version = {p.version}"]
        if p.machine_address:
            lines.append(f"machine_name = {p.machine_address}")
        if p.spalloc_server:
            lines.append(f"spalloc_server = {p.spalloc_server}")
        if p.time_scale_factor:
            lines.append(f"time_scale_factor = {p.time_scale_factor:g}")
        lines += ["", "[Reports]", f"default_report_file_path = {run / 'reports'}", ""]
        (run / ".spynnaker.cfg").write_text("\n".join(lines))
        return run

    def _build(self) -> None:
        try:
            import pyNN.spiNNaker as sim
        except ImportError as e:
            raise RuntimeError(f"coprocessor.spinnaker {self.name!r}: sPyNNaker is not installed ({e}); "
                               f"pip install sPyNNaker") from None
        p = self.params
        self.run_dir = self._write_cfg()
        # sPyNNaker reads ~/.spynnaker.cfg (and the XDG config dirs): point them at the run dir.
        saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME")}
        os.environ["HOME"] = str(self.run_dir)
        os.environ["XDG_CONFIG_HOME"] = str(self.run_dir / ".config")
        try:
            sim.setup(timestep=p.dt_s * 1e3)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.sim = sim
        self.approximations = []
        n_in = int(np.prod(self.in_shape))
        prev = sim.Population(n_in, sim.external_devices.SpikeInjector(), label="input")
        self.input_label = "input"
        for st in self.stages:
            tau_m = p.dt_s * 1e3 / st.leak if st.leak > 0 else IF_TAU_M_MS
            if st.leak == 0:
                self.approximations.append(f"{st.name}: IF as a LIF with tau_m = {IF_TAU_M_MS:g} ms")
            common = dict(v_thresh=1.0, v_reset=0.0, v_rest=0.0, cm=1.0, tau_m=min(tau_m, IF_TAU_M_MS),
                          tau_refrac=0.0)
            if st.neuron == "CubaLIF":
                tau_syn = p.dt_s * 1e3 / st.syn_leak
                cell = sim.IF_curr_exp(tau_syn_E=tau_syn, tau_syn_I=tau_syn, **common)
                self.approximations.append(f"{st.name}: CubaLIF as IF_curr_exp (exact exponential "
                                           f"synapse instead of forward Euler)")
            else:
                cell = sim.IF_curr_delta(**common)
            pop = sim.Population(st.n_out, cell, label=st.name)
            bias = np.asarray(st.bias, np.float64) / (p.dt_s * 1e3)  # nA over 1 nF: mV per ms
            if np.any(bias):
                pop.set(i_offset=bias)
            w = np.asarray(st.weight, np.float64)
            for sign, receptor in ((1, "excitatory"), (-1, "inhibitory")):
                post, pre = np.nonzero(w * sign > 0)
                if len(pre):
                    conns = np.column_stack([pre, post, np.abs(w[post, pre]), np.full(len(pre), p.dt_s * 1e3)])
                    sim.Projection(prev, pop, sim.FromListConnector(conns, column_names=["weight", "delay"]),
                                   receptor_type=receptor)
            prev = pop
        self.approximations.append("weights are held as 16-bit fixed point in synaptic rows; each "
                                   "projection adds one timestep of delay")
        self.output_label = self.out_layer = self.stages[-1].name
        self.live = None
        self.keymap = np.arange(n_in, dtype=np.uint32)  # atom ids until the board's keys are known
        if not p.virtual_board:
            from spynnaker.pyNN.connections import SpynnakerLiveSpikesConnection
            self.live = SpynnakerLiveSpikesConnection(receive_labels=[self.output_label],
                                                      send_labels=[self.input_label], local_port=None)
            self.live.add_receive_callback(self.output_label, self._on_spikes)
            sim.external_devices.activate_live_output_for(
                prev, database_notify_port_num=self.live.local_port)
            self.live.add_init_callback(self.output_label, self._on_init)
            # The board runs until stop(); spikes flow both ways meanwhile.
            self.runner = threading.Thread(target=sim.external_devices.run_forever, daemon=True)
            self.runner.start()
        if p.virtual_board:
            sim.run(p.map_steps * p.dt_s * 1e3)  # maps, routes and generates data; no board runs
            self.count("mapped")
        where = "virtual board" if p.virtual_board else (p.machine_address or p.spalloc_server)
        self.details = {"board": f"SpiNNaker-{p.version} {where}", "approximations": self.approximations,
                        "populations": {st.name: st.n_out for st in self.stages}}

    def _on_init(self, label: str, vertex_size: int, run_time_ms: float, machine_timestep_ms: float) -> None:
        keys = self.live._atom_id_to_key.get(self.input_label, {})
        if keys:
            self.keymap = np.array([keys[i] for i in range(len(keys))], np.uint32)

    def _on_spikes(self, label: str, time_ms: int, neuron_ids) -> None:
        self.spikes_in.put((int(time_ms), list(neuron_ids)))

    def close(self) -> None:
        sim = getattr(self, "sim", None)
        if sim is not None:
            try:
                sim.end()
            except Exception:  # noqa: BLE001  (ending a failed setup)
                pass
        if getattr(self, "spif", None):
            self.spif[0].close()

    def _send_frames(self, frames: np.ndarray) -> None:
        for frame in frames:
            keys = frame_keys(np.ascontiguousarray(frame, np.float32), self.keymap)
            packets = eieio_packets(keys)
            self.count("input_spikes", len(keys))
            self.count("eieio_packets", len(packets))
            if self.live is not None:
                for pkt in packets:
                    self.live.send_eieio_message(_Packet(pkt), self.input_label)

    def advance(self, frames: np.ndarray) -> np.ndarray:
        """Send the bins; the output rows that came back meanwhile (one per step with spikes)."""
        self._send_frames(frames)
        rows = []
        while True:
            try:
                _, ids = self.spikes_in.get_nowait()
            except queue.Empty:
                break
            row = np.zeros(self.n_out, np.float32)
            np.add.at(row, np.asarray(ids, np.int64), 1.0)
            self.count("output_spikes", len(ids))
            rows.append(row)
        return np.array(rows, np.float32).reshape(len(rows), self.n_out)

    def reset(self) -> None:
        pass  # a running board keeps its state; the early-exit rule starts afresh

    def receive(self, port: str, msg: Message):
        if port == "events":
            words = spif_words(msg.data)
            self.count("spif_words", len(words))
            if self.spif is not None:
                sock, addr = self.spif
                n = self.params.spif_words_per_packet
                for a in range(0, len(words), n):
                    sock.sendto(words[a:a + n].tobytes(), addr)
            return None
        return super().receive(port, msg)


class _Packet:
    """Bytes built here, in the shape LiveEventConnection.send_eieio_message sends."""

    def __init__(self, data: bytes) -> None:
        self.bytestring = data


def probe_board(address: str, timeout_s: float) -> None:
    """Ask SC&MP on the board for its version; an error if nothing answers in time."""
    from spinnman.connections.udp_packet_connections import SCAMPConnection
    from spinnman.messages.scp.impl import GetVersion
    conn = SCAMPConnection(0, 0, remote_host=address, remote_port=SCP_PORT)
    try:
        conn.send(conn.get_scp_data(GetVersion(0, 0, 0)))
        try:
            ready = conn.is_ready_to_receive(timeout_s)
            if ready:
                conn.receive_scp_response(timeout_s)
        except Exception as e:  # noqa: BLE001  (ICMP refusals surface as socket errors)
            raise ConnectionError(f"SpiNNaker board at {address}:{SCP_PORT} refused: {e}") from None
        if not ready:
            raise ConnectionError(f"SpiNNaker board at {address}:{SCP_PORT} did not answer within "
                                  f"{timeout_s:g} s; check machine_address and the board's power")
    finally:
        conn.close()
