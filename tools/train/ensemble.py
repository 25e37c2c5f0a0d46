"""Several seeds of one dense spiking network merged into a single network of the same
depth: the hidden layers side by side and the output layer's weights averaged over the
members, so each output neuron is driven by the members' mean drive. One file, one network
to run online (K times the hidden neurons of one member: cheap for the EEG decoder's 8
inputs), and the seed-to-seed spread of a network trained on 30 trials averaged out."""
from __future__ import annotations

import torch

from .model import SNN, dense_arch


def merge(members: list[SNN]) -> SNN:
    """One Flatten -> Linear -> neuron -> Linear -> neuron network equal to the members'
    hidden layers side by side and their output drives averaged."""
    if not members:
        raise ValueError("merge needs at least one network")
    first = members[0]
    kinds = [k[0] for k in first.kinds]
    if kinds != ["flatten", "dense", "dense"] or any(m.kinds != first.kinds for m in members):
        raise ValueError(f"merge takes dense networks of one shape (flatten, dense, dense), got {first.kinds}")
    hidden = sum(m.layers[1].out_features for m in members)
    bias = first.layers[1].bias is not None
    out = SNN(first.input_shape, dense_arch(first.n_classes, hidden), beta=first.beta,
              threshold=first.threshold, bias=bias)
    with torch.no_grad():
        out.layers[1].weight.copy_(torch.cat([m.layers[1].weight for m in members], 0))
        out.layers[2].weight.copy_(torch.cat([m.layers[2].weight for m in members], 1) / len(members))
        if bias:
            out.layers[1].bias.copy_(torch.cat([m.layers[1].bias for m in members]))
            out.layers[2].bias.copy_(torch.stack([m.layers[2].bias for m in members]).mean(0))
    return out
