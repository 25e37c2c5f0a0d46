"""What a graph check learns from the NIR model of snn.infer or a coprocessor node before
anything starts: that it loads with the node's parameters, the shape of its input (which
the node's input port declares, so the edge from events.bin is compared with it) and its
number of outputs (against `labels`). Loading reads the file and builds the layers; no
kernel is compiled."""
from __future__ import annotations

import functools
import math
import os
from typing import Any

from streamer.node import Port
from streamer.streams import SPIKES

from .early_exit import MEMBRANE_READOUTS
from .network import Network, load


@functools.lru_cache(maxsize=16)
def _load(model: str, mtime_ns: int, dt_s: float, convention: str, reset: str | None) -> Network:
    return load(model, dt=dt_s, convention=convention, reset=reset)


def network(params: Any) -> Network:
    """The node's network, loaded once per file version and parameters (ports() and
    check() both ask)."""
    return _load(params.model, os.stat(params.model).st_mtime_ns, params.dt_s, params.convention, params.reset)


def model_ports(cls: Any, params: Any) -> tuple[dict[str, Port], dict[str, Port]]:
    """The node's ports, the input's shape per step and the spikes' size taken from the model."""
    inputs, outputs = dict(cls.inputs), dict(cls.outputs)
    try:
        net = network(params)
    except Exception:  # noqa: BLE001 - check() reports why the model does not load
        return inputs, outputs
    inputs["in"] = Port(inputs["in"].stream, inputs["in"].doc, shape=net.in_shape, shape_from="model")
    if "out" in outputs:
        outputs["out"] = Port(SPIKES, outputs["out"].doc, shape=(math.prod(net.out_shape),), shape_from="model")
    return inputs, outputs


def model_problems(params: Any) -> list[tuple[str, str]]:
    """(parameter, message) for a model that would fail the node's start()."""
    try:
        net = network(params)
    except (OSError, ValueError) as exc:
        return [("model", f"cannot load the model: {exc}")]
    problems = []
    n_out = math.prod(net.out_shape)
    if params.labels and len(params.labels) != n_out:
        problems.append(("labels", f"{len(params.labels)} labels for a model with {n_out} outputs "
                                   f"({params.model}); give one label per output, in output order"))
    readout = getattr(params, "readout", "spikes")
    if readout in MEMBRANE_READOUTS and getattr(net.readout_layer, "v", None) is None:
        problems.append(("readout", f"readout {readout!r} needs an output layer with a membrane (LI, LIF, "
                                    "IF...); this model's has none: use readout 'spikes'"))
    return problems
