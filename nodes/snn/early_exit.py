"""Dynamic Confidence: stop a sample's simulation once the output is confident enough.

Each step the readout is turned into probabilities with softmax(readout / temperature);
the confidence is the largest probability. Readouts (`READOUTS`): the output spikes
accumulated since the sample began ("spikes"), the output layer's membrane now
("membrane"), or the running mean over the sample's steps of either ("spikes_mean",
"membrane_mean": a membrane that swings with each input bin reads steadier averaged).
The sample stops at the first step after `min_steps` whose confidence exceeds
`threshold`, or at `max_steps`. A threshold of None never stops
early (the policy "none" of the nodes' `early_exit` parameter).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


@dataclass
class InferResult:
    """The class chosen for one sample, its probabilities and the steps it took."""
    index: int
    confidence: float
    probabilities: np.ndarray
    steps: int


READOUTS = ("spikes", "membrane", "spikes_mean", "membrane_mean")
Readout = Literal["spikes", "membrane", "spikes_mean", "membrane_mean"]
MEMBRANE_READOUTS = ("membrane", "membrane_mean")


def softmax(z: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(z, np.float64).reshape(-1) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


@dataclass(frozen=True)
class DynamicConfidence:
    threshold: float | None = 0.9
    temperature: float = 1.0
    min_steps: int = 1
    max_steps: int = 300
    readout: str = "spikes"

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.max_steps < 1 or self.min_steps < 0:
            raise ValueError(f"need max_steps >= 1 and min_steps >= 0, got {self.min_steps}, {self.max_steps}")

    @classmethod
    def full_window(cls, max_steps: int, readout: str = "spikes") -> "DynamicConfidence":
        """No early exit: every sample runs `max_steps`."""
        return cls(threshold=None, max_steps=max_steps, readout=readout)

    def tracker(self, n_out: int, readout_layer=None) -> "Tracker":
        return Tracker(self, n_out, readout_layer)


class Tracker:
    """The running state of one sample under a DynamicConfidence policy."""

    def __init__(self, policy: DynamicConfidence, n_out: int, readout_layer=None) -> None:
        self.policy = policy
        self.acc = np.zeros(n_out, np.float64)
        self.v_sum = np.zeros(n_out, np.float64)
        self.steps = 0
        self.probabilities = np.full(n_out, 1.0 / n_out)
        self.trace: list[float] = []  # the confidence after each step, for the console
        self.membrane = getattr(readout_layer, "v", None)
        if policy.readout in MEMBRANE_READOUTS and self.membrane is None:
            raise ValueError(f"readout {policy.readout!r} needs an output layer with a membrane (LI/LIF/IF...)")

    def readout(self) -> np.ndarray:
        """What the policy reads after the last step."""
        r = self.policy.readout
        if r == "spikes":
            return self.acc
        if r == "membrane":
            return self.membrane
        return (self.acc if r == "spikes_mean" else self.v_sum) / max(self.steps, 1)

    def update(self, out: np.ndarray) -> bool:
        """Add one step's output; True when the sample should stop."""
        p = self.policy
        self.acc += out.reshape(-1)
        if p.readout == "membrane_mean":
            self.v_sum += np.reshape(self.membrane, -1)
        self.steps += 1
        self.probabilities = softmax(self.readout(), p.temperature)
        self.trace.append(round(float(self.probabilities.max()), 4))
        if self.steps >= p.max_steps:
            return True
        return p.threshold is not None and self.steps >= p.min_steps and self.probabilities.max() > p.threshold

    def result(self) -> InferResult:
        probs = self.probabilities
        index = int(np.argmax(self.readout()))
        return InferResult(index, float(probs[index]), probs.copy(), self.steps)


class EarlyExit(BaseModel):
    """When a sample's simulation stops: the `early_exit` parameter of the classifiers."""

    model_config = ConfigDict(extra="forbid")
    policy: Literal["dynamic_confidence", "none"] = Field(
        "dynamic_confidence", description="dynamic_confidence: stop once confident; none: always max_steps")
    threshold: float = Field(0.9, ge=0.0, le=1.0, description="confidence (max softmax) to stop at")
    temperature: float = Field(1.0, gt=0.0, description="softmax temperature over the readout")
    min_steps: int = Field(1, ge=0, description="never stop before this many steps")
    max_steps: int = Field(300, ge=1, description="always stop after this many steps")

    def rule(self, readout: str = "spikes") -> DynamicConfidence:
        """The stopping rule these parameters describe, for the given readout."""
        threshold = self.threshold if self.policy == "dynamic_confidence" else None
        return DynamicConfidence(threshold, self.temperature, self.min_steps, self.max_steps, readout)
