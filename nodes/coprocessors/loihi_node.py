"""coprocessor.loihi: a NIR spiking network on Loihi 2 through Lava (board or fixed-point simulator)."""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Literal

import numpy as np
from pydantic import Field

from nodes.snn.classifier import ClassifierNode, ClassifierParams

# Loihi 2, per chip (Intel's figures): 128 neuro cores, up to 1 M neurons, 120 M synapses.
NEURONS_PER_CHIP = 1_048_576
SYNAPSES_PER_CHIP = 120_000_000


class LoihiBackend:
    """The network lowered to Lava processes; bins run in blocks, outputs come back `depth`
    steps later (each connection holds its output one step)."""

    block = 1 << 30  # a Lava run() per block: as many bins at once as there are
    aligned = True
    max_count = 255  # the injector sends 8-bit event counts
    readout_layer = None

    def __init__(self, lava: Any, in_shape: tuple[int, ...], n_out: int, out_layer: str,
                 details: dict, count: Callable[..., None]) -> None:
        self.lava, self.count = lava, count
        self.label, self.depth = lava.backend, lava.depth
        self.in_shape, self.n_out, self.out_layer, self.details = in_shape, n_out, out_layer, details

    def advance(self, frames: np.ndarray) -> np.ndarray:
        self.count("steps", len(frames))
        return self.lava.run(frames)

    def reset(self) -> None:
        self.lava.reset()

    def close(self) -> None:
        self.lava.stop()


class Loihi(ClassifierNode):
    """Classifies frames with a NIR spiking network on Loihi 2, one chip step per bin.

    The graph (IF, LIF and CubaLIF layers behind Conv2d, SumPool2d, Flatten, Affine...)
    is lowered to Lava processes: each run of linear nodes becomes one Conv or Dense
    connection, quantised to Loihi's fixed point (8-bit weight mantissas and a shared
    exponent, 12-bit decays, integer thresholds, 13-bit bias mantissas); the error of
    each layer is in `self.quantization` and logged at start. It runs on a board when
    the lava-loihi extension is importable (`target: board` insists on it), otherwise on
    Lava's bit-accurate CPU simulator (Loihi2SimCfg, fixed_pt). Lava needs Python 3.10:
    give the node `python: .venv-lava/bin/python` in the graph (tools/envs/make_lava_env.sh).
    Frames (bins, *input_shape) or Spikes (steps, n) are injected per step as event
    counts (0..255); the output layer's spikes are read back and decided exactly as in
    snn.infer, with the same parameters (samples, trials, markers, early exit). Each
    connection delays by one step on the chip, so a sample's last output arrives `depth`
    steps after its last bin; the bins run after the deciding one start the next sample
    (continuous mode) or are idle (trial mode).
    Counters: decisions, steps (chip steps), backend_sim or backend_board, clipped_inputs
    (counts above 255), bin_mismatch, idle_bins, trials_cut, ignored_markers.
    """

    TYPE = "coprocessor.loihi"
    python_hint = "make it with `bash tools/envs/make_lava_env.sh` (Lava needs Python 3.10)"

    class Params(ClassifierParams):
        UNSUPPORTED = {"readout": (("membrane", "membrane_mean"),
                    "the chip's membranes are not read back; use readout 'spikes' or 'spikes_mean'")}

        target: Literal["auto", "simulator", "board"] = Field(
            "auto", description="auto: a board when lava-loihi is installed, else the simulator")
        chips: int = Field(1, ge=1, description="Loihi 2 chips available (capacity check)")

    def make_backend(self) -> LoihiBackend:
        from nodes.snn import load
        from .loihi_fixed_point import quantize
        from .lowering import stages

        p = self.params
        net = load(p.model, dt=p.dt_s, convention=p.convention, reset=p.reset)
        try:
            fixed = [quantize(s) for s in stages(net)]
        except ValueError as e:
            raise ValueError(f"coprocessor.loihi {self.name!r}: {p.model}: {e}") from None
        neurons = sum(f.stage.n_out for f in fixed)
        synapses = sum(f.stage.synapses for f in fixed)
        if neurons > p.chips * NEURONS_PER_CHIP or synapses > p.chips * SYNAPSES_PER_CHIP:
            raise ValueError(f"coprocessor.loihi {self.name!r}: {p.model} needs {neurons} neurons and "
                             f"{synapses} synapses; {p.chips} Loihi 2 chip(s) hold {p.chips * NEURONS_PER_CHIP}"
                             f" and {p.chips * SYNAPSES_PER_CHIP}: raise `chips` or shrink the network")
        self.quantization = [f.report for f in fixed]
        for r in self.quantization:
            logging.getLogger(__name__).info(
                "%s: layer %s (%s, %s) weight rel. RMS error %.4f, vth %d, weight_exp %d, dv %d, du %d",
                self.name, r["layer"], r["neuron"], r["connection"], r["weight_rel_rms"], r["vth"],
                r["weight_exp"], r["dv"], r["du"])
        try:
            from . import lava_network as LN
        except ImportError as e:
            raise RuntimeError(f"coprocessor.loihi {self.name!r}: Lava is not importable ({e}); run the "
                               f"node with the Lava interpreter (`python: .venv-lava/bin/python`, made by "
                               f"tools/envs/make_lava_env.sh)") from None
        board = LN.hardware_available()
        if p.target == "board" and not board:
            raise RuntimeError(f"coprocessor.loihi {self.name!r}: target 'board' but the lava-loihi "
                               f"extension is not installed")
        use_board = board and p.target != "simulator"
        if use_board and not os.environ.get("LOIHI_GEN"):
            os.environ["LOIHI_GEN"] = "N3B3"  # the Loihi 2 generation lava-loihi compiles for
        lava = LN.LavaNetwork(fixed, net.in_shape, use_board)
        self.count("backend_board" if use_board else "backend_sim")
        return LoihiBackend(lava, tuple(net.in_shape), int(np.prod(net.out_shape)), fixed[-1].stage.name,
                            {"quantization": json_safe(self.quantization)}, self.count)


def json_safe(report: Any) -> Any:
    """A report with NumPy scalars and arrays made plain, for the run's figures."""
    return json.loads(json.dumps(report, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
