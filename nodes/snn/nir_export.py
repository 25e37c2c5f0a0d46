"""Write a Network back to NIR: one node per layer, its current weights and parameters.

Nested subgraphs were flattened at load, so the exported graph is flat: inner nodes keep
their dotted names (`sub.aff`) and the subgraph's own Input/Output pass-throughs are
bypassed. Recurrent edges are written as ordinary edges (NIR has no delay marker; every
reader closes the cycle with its own step delay). Time constants and resistances are
written as the source file gave them, so a load → export → load round trip is exact.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import nir
import numpy as np

from . import layers as L

if TYPE_CHECKING:
    from .network import Network


def _arr(a, shape) -> np.ndarray:
    return np.asarray(a, np.float32).reshape(shape).copy()


def layer_to_nir(layer: L.Layer, dt: float) -> nir.NIRNode:
    """The NIR node that this layer runs."""
    shape = layer.out_shape
    if isinstance(layer, L.Conv1d):
        pad = layer.padding_name or layer.px
        return nir.Conv1d(input_shape=int(layer.in_shape[1]), weight=layer.w[:, :, 0, :].copy(),
                          stride=layer.sx, padding=pad, dilation=layer.dx, groups=layer.groups,
                          bias=layer.b.copy())
    if isinstance(layer, L.Conv2d):
        pad = layer.padding_name or (layer.py, layer.px)
        return nir.Conv2d(input_shape=tuple(layer.in_shape[1:]), weight=layer.w.copy(),
                          stride=(layer.sy, layer.sx), padding=pad, dilation=(layer.dy, layer.dx),
                          groups=layer.groups, bias=layer.b.copy())
    if isinstance(layer, L.Dense):
        if layer.has_bias:
            return nir.Affine(weight=layer.w.copy(), bias=layer.b.copy())
        return nir.Linear(weight=layer.w.copy())
    if isinstance(layer, L.Scale):
        return nir.Scale(scale=_arr(layer.s, shape))
    if isinstance(layer, L.Pool2d):
        cls = nir.AvgPool2d if layer.average else nir.SumPool2d
        return cls(kernel_size=np.array([layer.ky, layer.kx]), stride=np.array([layer.sy, layer.sx]),
                   padding=np.array([layer.py, layer.px]))
    if isinstance(layer, L.Reshape):
        return nir.Flatten(input_type={"input": np.array(layer.in_shape)},
                           start_dim=layer.start_dim, end_dim=layer.end_dim)
    if isinstance(layer, L.Neuron):
        p = {k: _arr(v, shape) for k, v in layer.nir_params.items()}
        v_leak, thr, v_reset = (_arr(a, shape) for a in (layer.v_leak, layer.thr, layer.v_reset))
        if layer.kind == "LIF":
            return nir.LIF(tau=p["tau"], r=p["r"], v_leak=v_leak, v_threshold=thr, v_reset=v_reset)
        if layer.kind == "LI":
            return nir.LI(tau=p["tau"], r=p["r"], v_leak=v_leak)
        if layer.kind == "IF":
            return nir.IF(r=p["r"], v_threshold=thr, v_reset=v_reset)
        return nir.I(r=p["r"])
    if isinstance(layer, L.CubaNeuron):
        p = {k: _arr(v, shape) for k, v in layer.nir_params.items()}
        common = dict(tau_syn=p["tau_syn"], tau_mem=p["tau_mem"], r=p["r"],
                      v_leak=_arr(layer.v_leak, shape), w_in=_arr(layer.w_in, shape))
        if layer.kind == "CubaLIF":
            return nir.CubaLIF(**common, v_threshold=_arr(layer.thr, shape),
                               v_reset=_arr(layer.v_reset, shape))
        return nir.CubaLI(**common)
    if isinstance(layer, L.Threshold):
        return nir.Threshold(threshold=_arr(layer.thr, shape))
    if isinstance(layer, L.Delay):
        return nir.Delay(delay=_arr(layer.delay_s, shape))
    raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no NIR equivalent")


def to_nir(net: "Network") -> nir.NIRGraph:
    """A flat NIRGraph equivalent to `net` (same weights, parameters and edges)."""
    top_in, top_out = net.names[net._in], net.names[net._out]
    skip = {i for i, lay in enumerate(net.layers)
            if isinstance(lay, L.Identity) and i not in (net._in, net._out)}

    def sources(i: int) -> list[int]:
        """Where layer i's input really comes from, through bypassed pass-throughs."""
        found = []
        for s, _ in net.inputs[i]:
            found.extend(sources(s) if s in skip else [s])
        return found

    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    for i, (name, layer) in enumerate(zip(net.names, net.layers)):
        if i in skip:
            continue
        if i == net._in:
            nodes[name] = nir.Input(input_type={"input": np.array(net.in_shape)})
        elif i == net._out:
            nodes[name] = nir.Output(output_type={"output": np.array(net.out_shape)})
        else:
            nodes[name] = layer_to_nir(layer, net.dt)
        edges.extend((net.names[s], name) for s in sources(i))
    assert top_in in nodes and top_out in nodes
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False,
                        metadata={"dt": net.dt, "convention": net.convention.name})


def save(net: "Network", path: str | Path) -> Path:
    """Write `net` as a NIR (HDF5) file; returns the path."""
    path = Path(path)
    nir.write(str(path), to_nir(net))
    return path
