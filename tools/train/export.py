"""A trained `SNN` as a NIR graph (the layout of the NIR paper's sinabs CNN)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import nir
import numpy as np

from .model import SNN


def _bias(layer) -> np.ndarray:
    """The layer's bias, zeros for a layer trained without one (NIR Affine/Conv2d carry one)."""
    if layer.bias is None:
        return np.zeros(layer.weight.shape[0], np.float32)
    return layer.bias.detach().numpy().astype(np.float32)


def _neuron(model: SNN, shape: tuple[int, ...], dt_s: float) -> nir.NIRNode:
    ones = np.ones(shape, dtype=np.float32)
    thr = ones * np.float32(model.threshold)
    zero = np.zeros(shape, dtype=np.float32)
    if model.beta == 1.0:
        return nir.IF(r=ones, v_threshold=thr, v_reset=zero)
    tau = dt_s / (1.0 - model.beta)
    return nir.LIF(tau=ones * np.float32(tau), r=ones * np.float32(tau / dt_s), v_leak=zero,
                   v_threshold=thr, v_reset=zero)


def to_nir(model: SNN, dt_s: float, metadata: dict[str, Any] | None = None) -> nir.NIRGraph:
    """NIR graph of `model`; `dt_s` is the duration of one step (one input bin)."""
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(model.input_shape))}
    edges: list[tuple[str, str]] = []
    prev, shape = "input", model.input_shape
    for i, (kind, layer, out_shape) in enumerate(zip(model.kinds, model.layers, model.shapes)):
        name = f"{i}_{kind[0]}"
        if kind[0] == "pool":
            k = kind[1]
            nodes[name] = nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                                        padding=np.array([0, 0]))
        elif kind[0] == "flatten":
            nodes[name] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
        elif kind[0] == "conv":
            nodes[name] = nir.Conv2d(
                input_shape=np.array(shape[1:]), weight=layer.weight.detach().numpy().astype(np.float32),
                stride=np.array(layer.stride), padding=np.array(layer.padding),
                dilation=np.array(layer.dilation), groups=1,
                bias=_bias(layer))
        else:
            nodes[name] = nir.Affine(weight=layer.weight.detach().numpy().astype(np.float32),
                                     bias=_bias(layer))
        edges.append((prev, name))
        prev = name
        if kind[0] in ("conv", "dense"):
            nname = f"{i}_{'if' if model.beta == 1.0 else 'lif'}"
            nodes[nname] = _neuron(model, out_shape, dt_s)
            edges.append((prev, nname))
            prev = nname
        shape = out_shape
    nodes["output"] = nir.Output(output_type=np.array(shape))
    edges.append((prev, "output"))
    meta = {"dt_s": float(dt_s), "reset": "zero", "spike": "v > v_threshold, one per step",
            "integration": "v[t] = v[t-1] + r*I[t] (IF); forward Euler at dt_s (LIF)",
            "readout": "argmax of output spike counts summed over steps"}
    meta.update(metadata or {})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(model: SNN, path: str | Path, dt_s: float, metadata: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, to_nir(model, dt_s, metadata))
    return path
