"""snn.infer: run a NIR spiking network on binned frames and emit decisions."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import streamer.node
from streamer.node import Port, Transform
from streamer.streams import DECISION, FRAMES, MARKER, Message, decision

from .conventions import CONVENTIONS
from .early_exit import DynamicConfidence
from .network import load


class EarlyExit(BaseModel):
    """When a sample's simulation stops."""

    model_config = ConfigDict(extra="forbid")
    policy: Literal["dynamic_confidence", "none"] = Field(
        "dynamic_confidence", description="dynamic_confidence: stop once confident; none: always max_steps")
    threshold: float = Field(0.9, ge=0.0, le=1.0, description="confidence (max softmax) to stop at")
    temperature: float = Field(1.0, gt=0.0, description="softmax temperature over the readout")
    min_steps: int = Field(1, ge=0, description="never stop before this many steps")
    max_steps: int = Field(300, ge=1, description="always stop after this many steps")
    readout: Literal["spikes", "membrane"] = Field(
        "spikes", description="accumulated output spikes or the output layer's membrane")


class Infer(Transform):
    """Classifies frames with a NIR spiking network, one step per bin.

    Each bin of the incoming Frames (bins, *input_shape) advances the network by `dt_s`.
    In `continuous` mode a decision is emitted whenever the early-exit policy stops (or
    `max_steps` is reached) and the network is reset for the next one; a Marker restarts
    the current sample. In `trial` mode nothing runs until a Marker starts a trial; the
    trial ends with its decision and the node waits for the next Marker. The decision
    keeps the t_origin of the Frames message whose bin completed it.
    Counters: decisions, idle_bins (trial mode, bins outside a trial), trials_cut
    (a Marker arrived before the previous trial decided), bin_mismatch (bin_us ≠ dt_s).
    """

    inputs = {"in": Port(FRAMES, "binned input, (bins, *input_shape)"),
              "markers": Port(MARKER, "trial onsets (trial mode) or restarts")}
    outputs = {"decision": Port(DECISION, "one per classified sample")}

    class Params(streamer.node.Params):
        model: str = Field(description="path of the NIR file")
        dt_s: float = Field(1e-3, gt=0.0, description="simulation step in seconds (one per bin)")
        convention: Literal[tuple(CONVENTIONS)] = Field(  # type: ignore[valid-type]
            "nir", description="spike/reset rules of the training framework")
        labels: list[str] = Field(default_factory=list, description="class names, by output index")
        mode: Literal["continuous", "trial"] = Field("continuous", description="continuous or trial")
        early_exit: EarlyExit = Field(default_factory=EarlyExit, description="when to stop a sample")

    def start(self) -> None:
        p = self.params
        self.net = load(p.model, dt=p.dt_s, convention=p.convention)
        n_out = int(np.prod(self.net.out_shape))
        if p.labels and len(p.labels) != n_out:
            raise ValueError(f"snn.infer {self.name!r}: {len(p.labels)} labels for a model with "
                             f"{n_out} outputs ({p.model})")
        e = p.early_exit
        threshold = e.threshold if e.policy == "dynamic_confidence" else 2.0  # 2: never confident
        self.policy = DynamicConfidence(threshold, e.temperature, e.min_steps, e.max_steps, e.readout)
        self.model_name = Path(p.model).name
        self.armed = p.mode == "continuous"
        self.last_t_origin = float("nan")
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
            if self.params.mode == "trial" and self.armed and self.tracker.steps:
                self.count("trials_cut")
            self.armed = True
            self._restart()
            return None
        frames = msg.data
        if not isinstance(frames, np.ndarray) or frames.shape[1:] != self.net.in_shape:
            shape = getattr(frames, "shape", None)
            raise ValueError(f"snn.infer {self.name!r}: Frames of shape {shape} do not fit the model "
                             f"input {self.net.in_shape} ({self.params.model}); bin to (bins, "
                             f"{', '.join(map(str, self.net.in_shape))})")
        bin_us = msg.meta.get("bin_us")
        if bin_us is not None and abs(bin_us - self.params.dt_s * 1e6) > 1e-6:
            self.count("bin_mismatch")
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        self.last_t_origin = msg.t_origin
        out = []
        for t in range(len(frames)):
            if not self.armed:
                self.count("idle_bins", len(frames) - t)
                break
            if self.tracker.update(self.net.advance(frames[t])):
                out.append(self._decide(msg.t_origin))
                self._restart()
                self.armed = self.params.mode == "continuous"
        return {"decision": out} if out else None

    def finish(self):
        """A trial cut short by the end of the stream still gets its decision."""
        if self.params.mode == "trial" and self.armed and self.tracker.steps:
            return {"decision": [self._decide(self.last_t_origin)]}
        return None
