"""Dynamic Confidence: stop a sample's simulation once the output is confident enough.

Each step the readout (accumulated output spikes, or the output layer's membrane) is
turned into probabilities with softmax(readout / temperature); the confidence is the
largest probability. The sample stops at the first step after `min_steps` whose
confidence exceeds `threshold`, or at `max_steps`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import InferResult


def softmax(z: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(z, np.float64).reshape(-1) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


@dataclass(frozen=True)
class DynamicConfidence:
    threshold: float = 0.9
    temperature: float = 1.0
    min_steps: int = 1
    max_steps: int = 300
    readout: str = "spikes"

    def __post_init__(self) -> None:
        if self.readout not in ("spikes", "membrane"):
            raise ValueError(f"readout must be 'spikes' or 'membrane', got {self.readout!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.max_steps < 1 or self.min_steps < 0:
            raise ValueError(f"need max_steps >= 1 and min_steps >= 0, got {self.min_steps}, {self.max_steps}")

    def tracker(self, n_out: int, readout_layer=None) -> "Tracker":
        return Tracker(self, n_out, readout_layer)


class Tracker:
    """The running state of one sample under a DynamicConfidence policy."""

    def __init__(self, policy: DynamicConfidence, n_out: int, readout_layer=None) -> None:
        self.policy = policy
        self.acc = np.zeros(n_out, np.float64)
        self.steps = 0
        self.probabilities = np.full(n_out, 1.0 / n_out)
        self.membrane = getattr(readout_layer, "v", None)
        if policy.readout == "membrane" and self.membrane is None:
            raise ValueError("readout 'membrane' needs an output layer with a membrane (LI/LIF/IF...)")

    def update(self, out: np.ndarray) -> bool:
        """Add one step's output; True when the sample should stop."""
        p = self.policy
        self.acc += out.reshape(-1)
        self.steps += 1
        z = self.membrane if p.readout == "membrane" else self.acc
        self.probabilities = softmax(z, p.temperature)
        if self.steps >= p.max_steps:
            return True
        return self.steps >= p.min_steps and self.probabilities.max() > p.threshold

    def result(self) -> InferResult:
        probs = self.probabilities
        z = self.membrane if self.policy.readout == "membrane" else self.acc
        index = int(np.argmax(z))
        return InferResult(index, float(probs[index]), probs.copy(), self.steps)
