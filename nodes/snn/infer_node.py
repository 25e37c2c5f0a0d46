"""snn.infer: run a NIR spiking network on binned frames and emit decisions."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import streamer.node
from streamer.node import Port, Transform
from streamer.paths import InputPath
from streamer.streams import DECISION, FRAMES, MARKER, SPIKES, Message, decision, spikes

from .conventions import CONVENTIONS
from .early_exit import DynamicConfidence
from .model_check import model_ports, model_problems
from .network import load
from .trials import Onsets, TrialBins, delay_field, input_bins, trial_markers_field


class EarlyExit(BaseModel):
    """When a sample's simulation stops."""

    model_config = ConfigDict(extra="forbid")
    policy: Literal["dynamic_confidence", "none"] = Field(
        "dynamic_confidence", description="dynamic_confidence: stop once confident; none: always max_steps")
    threshold: float = Field(0.9, ge=0.0, le=1.0, description="confidence (max softmax) to stop at")
    temperature: float = Field(1.0, gt=0.0, description="softmax temperature over the readout")
    min_steps: int = Field(1, ge=0, description="never stop before this many steps")
    max_steps: int = Field(300, ge=1, description="always stop after this many steps")


class Infer(TrialBins, Transform):
    """Classifies frames with a NIR spiking network, one step per bin.

    Each bin of the incoming Frames (bins, *input_shape), or each step of incoming Spikes
    (steps, n) with n = the input size, advances the network by `dt_s`.
    In `continuous` mode a decision is emitted whenever the early-exit policy stops (or
    `max_steps` is reached) and the network is reset for the next one; a Marker restarts
    the current sample. In `trial` mode nothing runs until a Marker starts a trial; the
    trial ends with its decision and the node waits for the next Marker. A Marker with a
    device `time` starts its trial at the first bin at or after that time, whatever order
    markers and frames arrive in (bins that came first are kept for it). The decision
    keeps the t_origin of the Frames message whose bin completed it. With
    `trigger: activity`, a trial also starts at the first bin whose input sum reaches
    `onset_events` (for streams without markers). With `trial_markers`, only markers
    with those labels start trials (EEG task cues, not rest cues); with `delay_s`, a trial
    starts that long after its marker (past a cue's evoked response). With
    `emit_spikes`, the output layer's spikes of every simulated step leave on `out`.
    Counters: decisions, idle_bins (trial mode, bins outside a trial), trials_cut
    (a Marker arrived before the previous trial decided), bin_mismatch (bin_us ≠ dt_s),
    ignored_markers (labels not in trial_markers).
    """

    inputs = {"in": Port((FRAMES, SPIKES), "binned input, (bins, *input_shape) or (steps, n)"),
              "markers": Port(MARKER, "trial onsets (trial mode) or restarts")}
    outputs = {"decision": Port(DECISION, "one per classified sample"),
               "out": Port(SPIKES, "output layer per simulated step (with emit_spikes)")}

    class Params(streamer.node.Params):
        model: InputPath = Field(description="path of the NIR file")
        dt_s: float = Field(1e-3, gt=0.0, description="simulation step in seconds (one per bin)")
        convention: Literal[tuple(CONVENTIONS)] = Field(  # type: ignore[valid-type]
            "nir", description="spike/reset rules of the training framework")
        labels: list[str] = Field(default_factory=list, description="class names, by output index")
        reset: Literal["v_reset", "subtract", None] = Field(
            None, description="override the convention's reset (graphs trained with the other one)")
        readout: Literal["spikes", "membrane"] = Field(
            "spikes", description="class from accumulated output spikes or the output membrane")
        mode: Literal["continuous", "trial"] = Field("continuous", description="continuous or trial")
        trial_markers: list[str] | None = trial_markers_field()
        delay_s: float = delay_field()
        trigger: Literal["marker", "activity"] = Field(
            "marker", description="trial mode: trials start on Markers, or also on input activity")
        onset_events: float = Field(
            10.0, gt=0.0, description="trigger 'activity': input sum in one bin that starts a trial")
        emit_spikes: bool = Field(False, description="send the output layer's spikes on 'out'")
        early_exit: EarlyExit = Field(default_factory=EarlyExit, description="when to stop a sample")

    @classmethod
    def ports(cls, params: "Infer.Params") -> tuple[dict[str, Port], dict[str, Port]]:
        return model_ports(cls, params)

    @classmethod
    def check(cls, params: "Infer.Params") -> list[tuple[str, str]]:
        return model_problems(params)

    def start(self) -> None:
        p = self.params
        self.net = load(p.model, dt=p.dt_s, convention=p.convention, reset=p.reset)
        n_out = int(np.prod(self.net.out_shape))
        if p.labels and len(p.labels) != n_out:
            raise ValueError(f"snn.infer {self.name!r}: {len(p.labels)} labels for a model with "
                             f"{n_out} outputs ({p.model})")
        e = p.early_exit
        threshold = e.threshold if e.policy == "dynamic_confidence" else 2.0  # 2: never confident
        self.policy = DynamicConfidence(threshold, e.temperature, e.min_steps, e.max_steps, p.readout)
        self.model_name = Path(p.model).name
        # Compile (or load from the cache) every kernel now, not on the first live bin:
        # empty input takes the event-driven path, full input the dense one; frames off the
        # wire are read-only, which Numba compiles apart from writable ones.
        for fill in (0.0, 1.0):
            for writable in (True, False):
                x = np.full(self.net.in_shape, fill, np.float32)
                x.setflags(write=writable)
                self.net.reset()
                self.net.advance(x)
        self.armed = p.mode == "continuous"
        self.last_t_origin = float("nan")
        self.onsets = Onsets(p.trial_markers, p.delay_s)
        self.held: list = []          # idle bins kept for a marker that is late
        self.spikes_out: list[np.ndarray] = []  # output rows of this call (emit_spikes)
        self.steps_run = 0            # steps simulated since start (Spikes 'step')
        self.quiet = True             # trigger 'activity': the last idle bin was below onset
        self.out_name = self.net.names[self.net._out]
        self._restart()

    def _restart(self) -> None:
        self.net.reset()
        self.tracker = self.policy.tracker(int(np.prod(self.net.out_shape)), self.net.readout_layer)

    def _decide(self, t_origin: float) -> Message:
        r = self.tracker.result()
        labels = self.params.labels
        self.count("decisions")
        return decision(r.index, labels[r.index] if labels else str(r.index), r.probabilities,
                        r.confidence, r.steps, model=self.model_name,
                        policy=self.params.early_exit.policy, t_origin=t_origin)

    def receive(self, port: str, msg: Message):
        if port == "markers":
            if not self.onsets.wanted(msg.data):
                self.count("ignored_markers")  # rest cues, file boundaries: no trial
                return None
            if self.params.mode == "continuous" or not self.onsets.add(msg.data):
                # No device time: the marker acts where it arrives.
                return self._start_trial(None, msg.t_origin)
            return self._replay_held(msg.t_origin)
        frames, starts, mismatch = input_bins(msg, self.net.in_shape, self.params.dt_s,
                                              f"snn.infer {self.name!r} ({self.params.model})")
        if mismatch:
            self.count("bin_mismatch")
        self.last_t_origin = msg.t_origin
        out = []
        for frame, t_bin in zip(frames, starts):
            out += self._bin(frame, t_bin, msg.t_origin)
        return self._emit(out, msg.t_origin)

    def _emit(self, decisions: list[Message], t_origin: float):
        result = {"decision": decisions} if decisions else {}
        if self.spikes_out:
            n = len(self.spikes_out)
            result["out"] = [spikes(np.stack(self.spikes_out), layer=self.out_name,
                                    step=self.steps_run - n, dt_s=self.params.dt_s, t_origin=t_origin)]
            self.spikes_out = []
        return result or None

    def _start_trial(self, t_bin, t_origin):
        self._begin_trial(bool(self.tracker.steps))
        return None

    def _onset(self, frame: np.ndarray) -> bool:
        """trigger 'activity': input rises to `onset_events` in this bin after a quieter one
        (a stream that stays busy after a decision does not start trial after trial)."""
        if self.params.mode != "trial" or self.params.trigger != "activity":
            return False
        active = float(frame.sum()) >= self.params.onset_events
        rising = active and self.quiet
        self.quiet = not active
        return rising

    def _bin(self, frame: np.ndarray, t_bin: int | None, t_origin: float) -> list[Message]:
        if self.params.mode == "trial" and t_bin is not None:
            started = self.onsets.pop_due(t_bin)
            if started or (not self.armed and self._onset(frame)):
                self._start_trial(t_bin, t_origin)
            if not self.armed:
                self._hold((t_bin, frame, t_origin))
                return []
        elif not self.armed:
            if not self._onset(frame):
                self.count("idle_bins")
                return []
            self._start_trial(t_bin, t_origin)
        y = self.net.advance(frame)
        self.steps_run += 1
        if self.params.emit_spikes:
            self.spikes_out.append(y.copy())
        if self.tracker.update(y):
            d = self._decide(t_origin)
            self._restart()
            self.armed = self.params.mode == "continuous"
            return [d]
        return []

    def _replay_held(self, t_origin: float):
        """A marker came after bins of its own trial: run those bins now."""
        held, self.held = self.held, []
        out = []
        for t_bin, frame, t0 in held:
            if self.onsets.pending and self.onsets.pending[0] > t_bin and not self.armed:
                self.held.append((t_bin, frame, t0))  # still before the next trial
                continue
            out += self._bin(frame, t_bin, max(t0, t_origin))
        return self._emit(out, t_origin)

    def finish(self):
        """A trial cut short by the end of the stream still gets its decision."""
        self._drop_held()
        if self.params.mode == "trial" and self.armed and self.tracker.steps:
            return {"decision": [self._decide(self.last_t_origin)]}
        return None
