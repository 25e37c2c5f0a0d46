"""Build the layers of a Network from a NIR graph.

Nested subgraphs are flattened (inner names become `outer.inner`), edges that close a
cycle are found by a depth-first walk from the inputs and read last step's output (a
one-step delay), the rest run in topological order. Shapes are propagated from the
Input node and checked against the shapes the file declares; any node this engine
cannot run, or any mismatch, is reported at load time with the node's name.
"""
from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from . import layers as L
from .conventions import Convention


@dataclass
class Plan:
    """Layers in execution order; inputs[i] lists (source index, delayed) of layer i."""
    names: list[str]
    layers: list[L.Layer]
    inputs: list[list[tuple[int, bool]]]
    input_index: int
    output_index: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


def flatten(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """Nodes and edges with every subgraph replaced by its own nodes."""
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + str(name)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten(node, full + ".")
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            entry[full] = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            exit_[full] = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
        else:
            nodes[full] = node

    def ends(name: str, table: dict[str, list[str]], what: str) -> list[str]:
        full = prefix + str(name)
        if full in table:
            if len(table[full]) != 1:
                raise ValueError(f"NIR subgraph {full!r} has {len(table[full])} {what} nodes; "
                                 f"address one of them as '{full}.<name>'")
            return table[full]
        if full not in nodes:
            raise ValueError(f"NIR edge refers to {full!r}, which is not a node of the graph")
        return [full]

    for src, dst in graph.edges:
        for s in ends(src, exit_, "Output"):
            for d in ends(dst, entry, "Input"):
                edges.append((s, d))
    return nodes, edges


def _order(names: list[str], starts: list[str], edges: list[tuple[str, str]]):
    """Topological order of the forward edges and the set of back (recurrent) edges."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for s, d in edges:
        succ[s].append(d)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    post: list[str] = []
    back: set[tuple[str, str]] = set()
    for root in starts + names:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            for nxt in it:
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
                    break
            else:
                stack.pop()
                state[node] = 2
                post.append(node)
    return post[::-1], back


def _shape(value) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = next(iter(value.values()), None)
        if value is None:
            return None
    a = np.asarray(value).reshape(-1)
    return tuple(int(v) for v in a) if a.size else None


def _pair(value, n: int = 2) -> tuple[int, ...]:
    a = np.asarray(value).reshape(-1)
    return tuple(int(v) for v in (np.repeat(a, n) if a.size == 1 else a))


def _conv_padding(padding, kernel, dilation, stride, name):
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * len(kernel)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"NIR node {name!r}: padding 'same' needs stride 1, got {stride}")
            span = [d * (k - 1) for k, d in zip(kernel, dilation)]
            if any(s % 2 for s in span):
                raise ValueError(f"NIR node {name!r}: padding 'same' with an even kernel span "
                                 f"{span} would pad unevenly; give explicit padding")
            return tuple(s // 2 for s in span)
        raise ValueError(f"NIR node {name!r}: unknown padding {padding!r} (use a number, 'same' or 'valid')")
    return _pair(padding, len(kernel))


def _conv_out(size, k, s, p, d):
    return tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, ss, pp, dd in zip(size, k, s, p, d))


def build_layer(name: str, node, shape: tuple[int, ...], dt: float, conv: Convention) -> L.Layer:
    """The layer that runs one NIR node on inputs of `shape`."""
    kind = type(node).__name__
    if isinstance(node, (nir.Input, nir.Output)):
        return L.Identity(name, shape, shape)
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = np.asarray(node.weight, np.float32)
        if w.ndim != 2 or int(np.prod(shape)) != w.shape[1]:
            raise ValueError(f"NIR node {name!r} ({kind}): weight {w.shape} does not take input of "
                             f"shape {shape}")
        return L.Dense(name, w, getattr(node, "bias", None), shape)
    if isinstance(node, nir.Scale):
        return L.Scale(name, shape, node.scale)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        nd = 1 if isinstance(node, nir.Conv1d) else 2
        w = np.asarray(node.weight, np.float32)
        groups = int(np.asarray(node.groups).reshape(-1)[0]) if np.size(node.groups) else 1
        if len(shape) != nd + 1 or w.ndim != nd + 2 or shape[0] != w.shape[1] * groups or w.shape[0] % groups:
            raise ValueError(f"NIR node {name!r} ({kind}): weight {w.shape} with groups={groups} "
                             f"does not take input of shape {shape}")
        k = w.shape[2:]
        stride, dil = _pair(node.stride, nd), _pair(node.dilation, nd)
        pad = _conv_padding(node.padding, k, dil, stride, name)
        out = (w.shape[0],) + _conv_out(shape[1:], k, stride, pad, dil)
        if min(out) < 1:
            raise ValueError(f"NIR node {name!r} ({kind}): input {shape} is too small for kernel {k}")
        bias = np.zeros(w.shape[0], np.float32) if node.bias is None or np.size(node.bias) == 0 else node.bias
        cls = L.Conv1d if nd == 1 else L.Conv2d
        layer = cls(name, shape, out, w, bias, stride, pad, dil, groups)
        layer.padding_name = node.padding if isinstance(node.padding, str) else None
        return layer
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        if len(shape) != 3:
            raise ValueError(f"NIR node {name!r} ({kind}) needs (C, H, W) input, got {shape}")
        k, s = _pair(node.kernel_size), _pair(node.stride)
        p = _conv_padding(node.padding, k, (1, 1), s, name)
        out = (shape[0],) + _conv_out(shape[1:], k, s, p, (1, 1))
        return L.Pool2d(name, shape, out, k, s, p, isinstance(node, nir.AvgPool2d))
    if isinstance(node, nir.Flatten):
        nd = len(shape)
        a, b = int(node.start_dim) % nd, int(node.end_dim) % nd
        out = shape[:a] + (int(np.prod(shape[a:b + 1])),) + shape[b + 1:]
        return L.Reshape(name, shape, out, a, b)
    if isinstance(node, (nir.LI, nir.LIF)):
        tau = np.asarray(node.tau, np.float32)
        spiking = isinstance(node, nir.LIF)
        return L.Neuron(name, shape, conv, leak=dt / tau, gain=np.asarray(node.r) * dt / tau,
                        v_leak=node.v_leak, thr=node.v_threshold if spiking else 0.0,
                        v_reset=_reset(node) if spiking else 0.0, spiking=spiking, kind=kind,
                        nir_params={"tau": node.tau, "r": node.r})
    if isinstance(node, (nir.I, nir.IF)):
        spiking = isinstance(node, nir.IF)
        return L.Neuron(name, shape, conv, leak=0.0, gain=node.r, v_leak=0.0,
                        thr=node.v_threshold if spiking else 0.0,
                        v_reset=_reset(node) if spiking else 0.0, spiking=spiking, kind=kind,
                        nir_params={"r": node.r})
    if isinstance(node, (nir.CubaLI, nir.CubaLIF)):
        spiking = isinstance(node, nir.CubaLIF)
        ts, tm = np.asarray(node.tau_syn, np.float32), np.asarray(node.tau_mem, np.float32)
        return L.CubaNeuron(name, shape, conv, syn_leak=dt / ts, w_in=node.w_in, leak=dt / tm,
                            gain=np.asarray(node.r) * dt / tm, v_leak=node.v_leak,
                            thr=node.v_threshold if spiking else 0.0,
                            v_reset=_reset(node) if spiking else 0.0, spiking=spiking,
                            nir_params={"tau_syn": node.tau_syn, "tau_mem": node.tau_mem, "r": node.r})
    if isinstance(node, nir.Threshold):
        return L.Threshold(name, shape, node.threshold)
    if isinstance(node, nir.Delay):
        return L.Delay(name, shape, node.delay, dt)
    raise ValueError(f"NIR node {name!r} is a {kind}, which this engine does not run "
                     f"(supported: Input, Output, Affine, Linear, Scale, Conv1d, Conv2d, SumPool2d, "
                     f"AvgPool2d, Flatten, LI, LIF, CubaLI, CubaLIF, I, IF, Threshold, Delay)")


def _reset(node):
    v = getattr(node, "v_reset", None)
    return 0.0 if v is None else v


def _declared(node, key: str) -> tuple[int, ...] | None:
    types = getattr(node, key, None)
    return _shape(types) if isinstance(types, dict) and types else None


def plan(graph: nir.NIRGraph, dt: float, conv: Convention) -> Plan:
    """Flatten, order, shape and build the layers of a graph."""
    nodes, edges = flatten(graph)
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input) and "." not in n]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output) and "." not in n]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"NIR graph must have one Input and one Output node at the top level, "
                         f"found inputs {inputs} and outputs {outputs}")
    order, back = _order(list(nodes), inputs, edges)
    pos = {n: i for i, n in enumerate(order)}
    preds: dict[str, list[tuple[str, bool]]] = {n: [] for n in order}
    for s, d in edges:
        preds[d].append((s, (s, d) in back))
    in_shape = _declared(nodes[inputs[0]], "input_type") or _declared(nodes[inputs[0]], "output_type")
    if in_shape is None:
        raise ValueError(f"NIR Input node {inputs[0]!r} declares no shape")
    layers: list[L.Layer] = []
    for name in order:
        node = nodes[name]
        if name == inputs[0]:
            shape = in_shape
        else:
            known = {layers[pos[s]].out_shape for s, delayed in preds[name] if not delayed}
            if not preds[name]:
                raise ValueError(f"NIR node {name!r} has no incoming edge")
            if not known:  # fed only through recurrent edges: trust the file
                declared = _declared(node, "input_type")
                if declared is None:
                    raise ValueError(f"NIR node {name!r}: input shape unknown (only recurrent inputs "
                                     f"and no input_type)")
                known = {declared}
            if len(known) != 1:
                raise ValueError(f"NIR node {name!r}: its inputs have different shapes {sorted(known)}")
            shape = known.pop()
            # Conv nodes check their weights instead (nir derives their input_type ignoring groups).
            declared = None if isinstance(node, (nir.Conv1d, nir.Conv2d)) else _declared(node, "input_type")
            if declared is not None and int(np.prod(declared)) != int(np.prod(shape)):
                raise ValueError(f"NIR node {name!r}: receives shape {shape} but declares input "
                                 f"{declared}")
        layers.append(build_layer(name, node, shape, dt, conv))
    for name in order:
        for s, delayed in preds[name]:
            if delayed and layers[pos[s]].out_shape != layers[pos[name]].in_shape:
                raise ValueError(f"NIR recurrent edge {s!r} -> {name!r}: shape "
                                 f"{layers[pos[s]].out_shape} does not match {layers[pos[name]].in_shape}")
    return Plan(order, layers, [[(pos[s], d) for s, d in preds[n]] for n in order],
                pos[inputs[0]], pos[outputs[0]], tuple(in_shape), layers[pos[outputs[0]]].out_shape)
