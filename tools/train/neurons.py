"""IF/LIF neurons with a fast-sigmoid surrogate gradient, state carried explicitly."""
from __future__ import annotations

import torch
from torch import nn


class FastSigmoidSpike(torch.autograd.Function):
    """Heaviside forward; d/dx = 1 / (slope * |x| + 1)^2 backward (Zenke & Ganguli, 2018)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad / (ctx.slope * x.abs() + 1.0) ** 2, None


def spike(x: torch.Tensor, slope: float = 10.0) -> torch.Tensor:
    return FastSigmoidSpike.apply(x, slope)


class Neuron(nn.Module):
    """v = beta * v + I; spike when v > threshold; then v = 0.

    beta = 1 is IF (NIR IF with r = 1); beta < 1 is LIF, exported as NIR LIF with
    tau = dt / (1 - beta), r = tau / dt and v_leak = 0, whose forward-Euler step at dt is
    exactly this update.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 1.0, slope: float = 10.0) -> None:
        super().__init__()
        if not 0.0 < beta <= 1.0:
            raise ValueError(f"beta must be in (0, 1], got {beta}")
        self.beta, self.threshold, self.slope = beta, threshold, slope

    def forward(self, current: torch.Tensor, v: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        v = current if v is None else self.beta * v + current
        s = spike(v - self.threshold, self.slope)
        # The reset is not differentiated through (the usual choice; it trains more stably).
        return s, v * (1.0 - s.detach())
