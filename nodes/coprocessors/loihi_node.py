"""coprocessor.loihi: a NIR spiking network on Loihi 2 through Lava (board or fixed-point simulator)."""
from __future__ import annotations

import collections
import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from nodes.snn.trials import Onsets, TrialBins, delay_field, input_bins, trial_markers_field
from streamer.node import Port, Transform
from streamer.streams import DECISION, FRAMES, MARKER, SPIKES, Message, decision, spikes

from .params import CoprocessorParams, ModelNode, json_safe

# Loihi 2, per chip (Intel's figures): 128 neuro cores, up to 1 M neurons, 120 M synapses.
NEURONS_PER_CHIP = 1_048_576
SYNAPSES_PER_CHIP = 120_000_000


class Loihi(ModelNode, TrialBins, Transform):
    """Classifies frames with a NIR spiking network on Loihi 2, one chip step per bin.

    The graph (IF, LIF and CubaLIF layers behind Conv2d, SumPool2d, Flatten, Affine...)
    is lowered to Lava processes: each run of linear nodes becomes one Conv or Dense
    connection, quantised to Loihi's fixed point (8-bit weight mantissas and a shared
    exponent, 12-bit decays, integer thresholds, 13-bit bias mantissas); the error of
    each layer is in `self.quantization` and logged at start. It runs on a board when
    the lava-loihi extension is importable (`target: board` insists on it), otherwise on
    Lava's bit-accurate CPU simulator (Loihi2SimCfg, fixed_pt). Lava needs Python 3.10:
    give the node `python: .venv-lava/bin/python` in the graph (tools/envs/make_lava_env.sh).
    Frames (bins, *input_shape) or Spikes (steps, n) are injected per step as event
    counts (0..255); the output layer's spikes are read back and decided by Dynamic
    Confidence exactly as in snn.infer (same parameters). Each connection delays by one
    step on the chip, so a sample's last output arrives `depth` steps after its last
    bin; the bins run after the deciding one start the next sample (continuous mode) or
    are idle (trial mode). Trials start as in snn.infer: at the first bin at or after a
    Marker's device time (plus `delay_s`), whatever order markers and frames arrive in;
    with `trial_markers`, only markers with those labels start trials.
    Counters: decisions, steps (chip steps), backend_sim or backend_board, clipped_inputs
    (counts above 255), bin_mismatch, idle_bins, trials_cut, ignored_markers.
    """

    inputs = {"in": Port((FRAMES, SPIKES), "binned input, (bins, *input_shape) or (steps, n)"),
              "markers": Port(MARKER, "trial onsets (trial mode) or restarts")}
    outputs = {"decision": Port(DECISION, "one per classified sample"),
               "out": Port(SPIKES, "output layer per simulated step (with emit_spikes)")}

    class Params(CoprocessorParams):
        readout: Literal["spikes"] = Field("spikes", description="class from accumulated output spikes")
        target: Literal["auto", "simulator", "board"] = Field(
            "auto", description="auto: a board when lava-loihi is installed, else the simulator")
        chips: int = Field(1, ge=1, description="Loihi 2 chips available (capacity check)")
        trial_markers: list[str] | None = trial_markers_field()
        delay_s: float = delay_field()

    def start(self) -> None:
        from nodes.snn import DynamicConfidence, load
        from .loihi_fixed_point import quantize
        from .lowering import stages

        p = self.params
        if not Path(p.model).is_file():
            raise FileNotFoundError(f"coprocessor.loihi {self.name!r}: model {p.model!r} not found")
        net = load(p.model, dt=p.dt_s, convention=p.convention, reset=p.reset)
        try:
            fixed = [quantize(s) for s in stages(net)]
        except ValueError as e:
            raise ValueError(f"coprocessor.loihi {self.name!r}: {p.model}: {e}") from None
        neurons = sum(f.stage.n_out for f in fixed)
        synapses = sum(f.stage.synapses for f in fixed)
        if neurons > p.chips * NEURONS_PER_CHIP or synapses > p.chips * SYNAPSES_PER_CHIP:
            raise ValueError(f"coprocessor.loihi {self.name!r}: {p.model} needs {neurons} neurons and "
                             f"{synapses} synapses; {p.chips} Loihi 2 chip(s) hold {p.chips * NEURONS_PER_CHIP}"
                             f" and {p.chips * SYNAPSES_PER_CHIP}: raise `chips` or shrink the network")
        self.quantization = [f.report for f in fixed]
        for r in self.quantization:
            logging.getLogger(__name__).info(
                "%s: layer %s (%s, %s) weight rel. RMS error %.4f, vth %d, weight_exp %d, dv %d, du %d",
                self.name, r["layer"], r["neuron"], r["connection"], r["weight_rel_rms"], r["vth"],
                r["weight_exp"], r["dv"], r["du"])
        n_out = int(np.prod(net.out_shape))
        if p.labels and len(p.labels) != n_out:
            raise ValueError(f"coprocessor.loihi {self.name!r}: {len(p.labels)} labels for a model with "
                             f"{n_out} outputs ({p.model})")
        try:
            from . import lava_network as LN
        except ImportError as e:
            raise RuntimeError(f"coprocessor.loihi {self.name!r}: Lava is not importable ({e}); run the "
                               f"node with the Lava interpreter (`python: .venv-lava/bin/python`, made by "
                               f"tools/envs/make_lava_env.sh)") from None
        board = LN.hardware_available()
        if p.target == "board" and not board:
            raise RuntimeError(f"coprocessor.loihi {self.name!r}: target 'board' but the lava-loihi "
                               f"extension is not installed")
        use_board = board and p.target != "simulator"
        if use_board and not os.environ.get("LOIHI_GEN"):
            os.environ["LOIHI_GEN"] = "N3B3"  # the Loihi 2 generation lava-loihi compiles for
        self.lava = LN.LavaNetwork(fixed, net.in_shape, use_board)
        self.backend = self.lava.backend
        self.details = {"backend": self.backend, "quantization": json_safe(self.quantization)}
        self.count("backend_board" if use_board else "backend_sim")
        self.in_shape, self.n_out, self.depth = tuple(net.in_shape), n_out, self.lava.depth
        e = p.early_exit
        threshold = e.threshold if e.policy == "dynamic_confidence" else 2.0  # 2: never confident
        self.policy = DynamicConfidence(threshold, e.temperature, e.min_steps, e.max_steps, "spikes")
        self.model_name = Path(p.model).name
        self.out_name = fixed[-1].stage.name
        self.armed = p.mode == "continuous"
        self.pending: list[tuple] = []  # bins (t_bin, frame, t_origin) whose output is not back yet
        self.lag = self.depth           # chip rows still to skip before this sample's first
        self.onsets = Onsets(p.trial_markers, p.delay_s)
        self.held: list[tuple] = []     # idle bins kept for a marker that is late
        self.spikes_out: list[np.ndarray] = []
        self.last_t_origin = float("nan")
        self.tracker = self.policy.tracker(n_out)

    def stop(self) -> None:
        lava = getattr(self, "lava", None)
        if lava is not None:
            lava.stop()

    # -- one sample after the other: snn.infer's rules, with the chip's pipeline delay ------
    def _restart(self) -> None:
        self.lava.reset()
        self.pending = []
        self.lag = self.depth
        self.tracker = self.policy.tracker(self.n_out)

    def _decide(self, t_origin: float) -> Message:
        r = self.tracker.result()
        labels = self.params.labels
        self.count("decisions")
        return decision(r.index, labels[r.index] if labels else str(r.index), r.probabilities,
                        r.confidence, r.steps, model=self.model_name, policy=self.params.early_exit.policy,
                        backend=self.backend, t_origin=t_origin)

    def _start_trial(self) -> None:
        self._begin_trial(bool(self.tracker.steps + len(self.pending)))

    def _onset_due(self, t_bin: int | None) -> bool:
        return self.params.mode == "trial" and self.onsets.due(t_bin)

    def _process(self, items: list[tuple]) -> list[Message]:
        """Bins (t_bin, frame, t_origin) in order: trials started where their onsets fall,
        runs of armed bins sent to the chip together, the others held as idle."""
        out: list[Message] = []
        queue = collections.deque(items)
        block: list[tuple] = []
        while queue or block:
            due = bool(queue) and self._onset_due(queue[0][0])
            if block and (not queue or due):
                out += self._run(block, queue)  # bins after a decision return to the queue
                block = []
                continue
            item = queue.popleft()
            if due:
                self.onsets.pop_due(item[0])
                self._start_trial()
            if not self.armed:
                self._hold(item)
                continue
            block.append(item)
        return out

    def _run(self, block: list[tuple], rest: collections.deque, flush: bool = False) -> list[Message]:
        """Run bins of the current sample on the chip; a decision among their outputs ends
        the sample, and the bins run after the deciding one go back to `rest`."""
        frames = np.stack([f for _, f, _ in block]).astype(np.float32, copy=False)
        rows = self.lava.run(frames)
        self.count("steps", len(frames))
        if not flush:
            self.pending.extend(block)
        for row in rows:
            if self.lag:
                self.lag -= 1
                continue
            if not self.pending:
                break
            _, _, t_origin = self.pending.pop(0)
            if self.params.emit_spikes:
                self.spikes_out.append(row.copy())
            if self.tracker.update(row):
                d = self._decide(t_origin)
                after = self.pending
                self._restart()
                self.armed = self.params.mode == "continuous"
                rest.extendleft(reversed(after))
                return [d]
        return []

    def _flush(self) -> list[Message]:
        """Run empty steps until the output of every bin run is back; a decision there
        leaves the bins after it to the next sample (continuous) or idle (trial)."""
        out: list[Message] = []
        while self.pending and self.armed:
            rest: collections.deque = collections.deque()
            t_origin = self.pending[-1][2]
            zeros = [(None, np.zeros(self.in_shape, np.float32), t_origin)] * (self.lag + len(self.pending))
            out += self._run(zeros, rest, flush=True)
            if rest:
                out += self._process(list(rest))
        return out

    def receive(self, port: str, msg: Message):
        if port == "markers":
            if not self.onsets.wanted(msg.data):
                self.count("ignored_markers")
                return None
            if self.params.mode == "continuous" or not self.onsets.add(msg.data):
                self._start_trial()  # no device time: the marker acts where it arrives
                return None
            # the trial starts at the first bin at or after the onset, whichever arrives first
            held, self.held = self.held, []
            return self._emit(self._process(held), msg.t_origin)
        frames, starts, mismatch = input_bins(msg, self.in_shape, self.params.dt_s,
                                              f"coprocessor.loihi {self.name!r} ({self.params.model})")
        if mismatch:
            self.count("bin_mismatch")
        clipped = int(np.count_nonzero(frames > 255))
        if clipped:
            self.count("clipped_inputs", clipped)
        self.last_t_origin = msg.t_origin
        items = [(t_bin, frame, msg.t_origin) for t_bin, frame in zip(starts, frames)]
        return self._emit(self._process(items), msg.t_origin)

    def _emit(self, decisions: list[Message], t_origin: float):
        result = {"decision": decisions} if decisions else {}
        if self.spikes_out:
            result["out"] = [spikes(np.stack(self.spikes_out), layer=self.out_name,
                                    dt_s=self.params.dt_s, t_origin=t_origin)]
            self.spikes_out = []
        return result or None

    def finish(self):
        """The sample cut short by the end of the stream still gets its decision."""
        self._drop_held()
        if not self.armed:
            return None
        out = self._flush()
        if self.armed and self.tracker.steps and self.params.mode == "trial":
            out.append(self._decide(self.last_t_origin))
        return self._emit(out, self.last_t_origin)
