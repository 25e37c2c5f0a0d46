"""A spiking network compiled from NIR: step it one time step at a time, state carried."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nir
import numpy as np

from . import conventions
from .nir_import import plan

if TYPE_CHECKING:
    from .early_exit import DynamicConfidence


@dataclass
class InferResult:
    """The class chosen for one sample, its probabilities and the steps it took."""
    index: int
    confidence: float
    probabilities: np.ndarray
    steps: int


class Network:
    """Layers of a NIR graph in execution order, with their state.

    `step(x)` advances one time step of `dt` seconds and returns the output layer's
    values (a fresh array); `run(frames)` steps through (steps, *in_shape) frames.
    """

    def __init__(self, graph: nir.NIRGraph, dt: float = 1e-3, convention: str = "nir",
                 source: str = "", reset: str | None = None) -> None:
        if not dt > 0:
            raise ValueError(f"dt must be a positive number of seconds, got {dt}")
        self.dt = float(dt)
        self.convention = conventions.get(convention, reset)
        self.source = source
        p = plan(graph, self.dt, self.convention)
        self.names, self.layers, self.inputs = p.names, p.layers, p.inputs
        self.in_shape, self.out_shape = p.in_shape, p.out_shape
        self._in, self._out = p.input_index, p.output_index
        n = len(self.layers)
        # Layers whose input is a sum of several sources get their own buffer.
        self._sum = [np.zeros(self.layers[i].in_shape, np.float32) if len(self.inputs[i]) > 1
                     else None for i in range(n)]
        self._recurrent = sorted({s for ins in self.inputs for s, d in ins if d})
        self._prev = {s: np.zeros(self.layers[s].out_shape, np.float32) for s in self._recurrent}
        self._outs: list[np.ndarray | None] = [None] * n
        self._program = [(i, self.layers[i], self.inputs[i], self._sum[i]) for i in range(n)
                         if i != self._in]
        self.reset()

    def __repr__(self) -> str:
        body = "\n".join(f"  {lay!r}" for lay in self.layers)
        return (f"Network({self.source or 'graph'}, dt={self.dt}, convention={self.convention.name!r},"
                f" {self.in_shape} -> {self.out_shape}\n{body}\n)")

    def reset(self) -> None:
        """Zero every state (membranes, currents, delay lines, recurrent outputs)."""
        for layer in self.layers:
            layer.reset()
        for buf in self._prev.values():
            buf[...] = 0.0

    def layer(self, name: str):
        """The layer compiled from NIR node `name` (subgraph nodes as 'outer.inner')."""
        try:
            return self.layers[self.names.index(name)]
        except ValueError:
            raise KeyError(f"no layer {name!r}; layers: {', '.join(self.names)}") from None

    @property
    def readout_layer(self):
        """The layer that feeds the Output node (its membrane is the 'membrane' readout)."""
        return self.layers[self.inputs[self._out][0][0]]

    def advance(self, x: np.ndarray) -> np.ndarray:
        """`step` without the checks and the copy, for callers that validated the input.

        x must be float32, C-contiguous and of in_shape; the returned array is the
        output buffer, overwritten by the next step.
        """
        return self._step(x)

    def _step(self, x: np.ndarray) -> np.ndarray:
        outs = self._outs
        outs[self._in] = x
        prev = self._prev
        for i, layer, ins, acc in self._program:
            if acc is None:
                s, delayed = ins[0]
                xi = prev[s] if delayed else outs[s]
            else:
                acc[...] = 0.0
                for s, delayed in ins:
                    acc += (prev[s] if delayed else outs[s]).reshape(acc.shape)
                xi = acc
            outs[i] = layer.step(xi)
        for s in self._recurrent:
            prev[s][...] = outs[s]
        return outs[self._out]

    def _check(self, x: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape != shape:
            raise ValueError(f"{what} must have shape {shape} for {self.source or 'this network'}, "
                             f"got {x.shape}")
        return x

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one step with input `x` (in_shape); returns a copy of the output."""
        return self._step(self._check(x, self.in_shape, "step input")).copy()

    def run(self, frames: np.ndarray, record: tuple[str, ...] = ()):
        """Step through frames (steps, *in_shape) from the current state; (steps, *out_shape).

        With `record` (layer names), returns (outputs, {name: (steps, *layer.out_shape)}).
        """
        frames = self._check(frames, (len(frames),) + self.in_shape, "frames")
        out = np.empty((len(frames),) + self.out_shape, np.float32)
        rec = {n: (self.names.index(n), np.empty((len(frames),) + self.layer(n).out_shape, np.float32))
               for n in record}
        for t in range(len(frames)):
            out[t] = self._step(frames[t])
            for i, buf in rec.values():
                buf[t] = self._outs[i]
        return (out, {n: buf for n, (_, buf) in rec.items()}) if record else out

    def to_nir(self) -> nir.NIRGraph:
        """This network as a flat NIRGraph (current weights and parameters)."""
        from .nir_export import to_nir
        return to_nir(self)

    def save(self, path: str | Path) -> Path:
        """Write this network as a NIR file."""
        from .nir_export import save
        return save(self, path)

    def infer(self, frames: np.ndarray, early_exit: "DynamicConfidence | None" = None,
              reset: bool = True) -> InferResult:
        """Classify one sample: reset, step until the policy stops (or the frames end)."""
        from .early_exit import DynamicConfidence
        if reset:
            self.reset()
        policy = early_exit or DynamicConfidence(threshold=2.0, max_steps=len(frames))
        frames = self._check(frames, (len(frames),) + self.in_shape, "frames")
        tracker = policy.tracker(int(np.prod(self.out_shape)), self.readout_layer)
        for t in range(len(frames)):
            if tracker.update(self._step(frames[t])):
                break
        return tracker.result()


def load(source: str | Path | nir.NIRGraph, dt: float = 1e-3, convention: str = "nir",
         reset: str | None = None) -> Network:
    """A Network from a NIR file (or an already read NIRGraph).

    `dt` is the step in seconds used for every time constant; `convention` selects the
    spike/reset rules of the framework the graph was trained in: "nir", "sinabs",
    "snntorch" or "norse"; `reset` ("v_reset" or "subtract") overrides the convention's
    reset mechanism for graphs trained with the other one.
    """
    if isinstance(source, nir.NIRGraph):
        return Network(source, dt, convention, reset=reset)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"NIR model {path} not found")
    try:
        graph = nir.read(str(path))
    except Exception as exc:  # h5py/nir raise many kinds for a bad file
        raise ValueError(f"{path}: not a readable NIR file ({exc})") from None
    try:
        return Network(graph, dt, convention, source=str(path), reset=reset)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
