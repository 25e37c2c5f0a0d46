"""Parameters the coprocessor nodes share with snn.infer (same names, same meaning)."""
from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

import streamer.node
from nodes.snn.conventions import CONVENTIONS
from nodes.snn.infer_node import EarlyExit
from nodes.snn.model_check import model_ports, model_problems
from streamer.node import Port
from streamer.paths import InputPath


class CoprocessorParams(streamer.node.Params):
    model: InputPath = Field(description="path of the NIR file")
    dt_s: float = Field(1e-3, gt=0.0, description="simulation step in seconds (one per bin)")
    convention: Literal[tuple(CONVENTIONS)] = Field(  # type: ignore[valid-type]
        "nir", description="spike/reset rules; chips run 'nir' (one spike when v > θ, reset to 0)")
    reset: Literal["v_reset", "subtract", None] = Field(
        None, description="override the convention's reset (chips support 'v_reset' only)")
    labels: list[str] = Field(default_factory=list, description="class names, by output index")
    mode: Literal["continuous", "trial"] = Field(
        "continuous", description="continuous: classify sample after sample; trial: start on Markers")
    emit_spikes: bool = Field(False, description="send the output layer's spikes on 'out'")
    early_exit: EarlyExit = Field(default_factory=EarlyExit, description="when to stop a sample")


class ModelNode:
    """The graph check of a node with CoprocessorParams: its model loads, its input port
    has the model's input shape, `labels` has one name per output."""

    @classmethod
    def ports(cls, params: CoprocessorParams) -> tuple[dict[str, Port], dict[str, Port]]:
        return model_ports(cls, params)

    @classmethod
    def check(cls, params: CoprocessorParams) -> list[tuple[str, str]]:
        return model_problems(params)


def json_safe(report: Any) -> Any:
    """A report with NumPy scalars and arrays made plain, for the run's figures."""
    return json.loads(json.dumps(report, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
