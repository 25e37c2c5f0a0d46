"""A small feed-forward SNN (SumPool / Conv2d / Flatten / Linear, each weight layer
followed by a spiking neuron), run step by step over frames (T, B, C, H, W)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .neurons import Neuron


@dataclass
class Arch:
    """Layer list: ("pool", k) | ("conv", out_channels, kernel, stride, padding) |
    ("flatten",) | ("dense", out_features). The last dense layer gives the classes."""

    layers: list[tuple]


def conv_arch(n_classes: int, channels: int = 8, hidden: int = 64, pool: int = 2) -> Arch:
    layers: list[tuple] = [("pool", pool)] if pool > 1 else []
    layers += [("conv", channels, 3, 2, 1), ("flatten",), ("dense", hidden), ("dense", n_classes)]
    return Arch(layers)


def csnn_arch(n_classes: int, channels: int = 12) -> Arch:
    """Two strided convolutions straight on the 34 x 34 sensor (no pooling), then the output
    layer: Conv2d 2->c 5x5/2 -> Conv2d c->2c 3x3/2 -> Flatten -> Affine -> classes."""
    return Arch([("conv", channels, 5, 2, 2), ("conv", 2 * channels, 3, 2, 1), ("flatten",),
                 ("dense", n_classes)])


def dense_arch(n_classes: int, hidden: int = 64) -> Arch:
    """Flatten, a hidden layer of `hidden` neurons (none for 0), the output layer."""
    return Arch([("flatten",), *([("dense", hidden)] if hidden else []), ("dense", n_classes)])


class SNN(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], arch: Arch, beta: float = 1.0,
                 threshold: float = 1.0, bias: bool = True) -> None:
        super().__init__()
        # Without biases the network's answer barely moves when its input is scaled (the
        # spike counts scale with it): an EEG run recorded louder reads the same.
        self.input_shape = tuple(int(s) for s in input_shape)
        self.arch = arch
        self.beta, self.threshold = beta, threshold
        self.layers = nn.ModuleList()
        self.kinds: list[tuple] = []
        self.shapes: list[tuple[int, ...]] = []  # output shape of each layer (no batch)
        shape = self.input_shape
        for spec in arch.layers:
            kind = spec[0]
            if kind == "pool":
                k = spec[1]
                shape = (shape[0], shape[1] // k, shape[2] // k)
                self.layers.append(nn.Identity())
            elif kind == "conv":
                _, out, k, stride, pad = spec
                self.layers.append(nn.Conv2d(shape[0], out, k, stride, pad, bias=bias))
                shape = (out, (shape[1] + 2 * pad - k) // stride + 1, (shape[2] + 2 * pad - k) // stride + 1)
            elif kind == "flatten":
                self.layers.append(nn.Flatten(start_dim=1))
                n = 1
                for s in shape:
                    n *= s
                shape = (n,)
            elif kind == "dense":
                if len(shape) != 1:
                    raise ValueError(f"dense layer after shape {shape}: add ('flatten',) first")
                self.layers.append(nn.Linear(shape[0], spec[1], bias=bias))
                shape = (spec[1],)
            else:
                raise ValueError(f"unknown layer kind {kind!r}")
            self.kinds.append(tuple(spec))
            self.shapes.append(shape)
        self.neuron = Neuron(beta, threshold)

    @property
    def n_classes(self) -> int:
        return self.shapes[-1][0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (T, B, *input_shape) -> output spikes (T, B, classes)."""
        state: list[torch.Tensor | None] = [None] * len(self.layers)
        outs = []
        for t in range(x.shape[0]):
            h = x[t]
            for i, (kind, layer) in enumerate(zip(self.kinds, self.layers)):
                if kind[0] == "pool":
                    k = kind[1]
                    h = F.avg_pool2d(h, k, k) * (k * k)  # sum pooling
                elif kind[0] == "flatten":
                    h = layer(h)
                else:
                    h, state[i] = self.neuron(layer(h), state[i])
            outs.append(h)
        return torch.stack(outs)
