"""A spiking network compiled from NIR: step it one time step at a time, state carried."""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from . import conventions
from . import kernels as K
from .early_exit import DynamicConfidence, InferResult
from .nir_import import plan
from .program import Program


class Network:
    """Layers of a NIR graph in execution order, with their state.

    One verb moves it in time: `step(x)` advances one step of `dt` seconds per frame of
    `x` (in_shape for one step, (steps, *in_shape) for several) and returns the output
    layer's values. `classify(frames)` is `reset` and `step` until an early-exit rule stops.

    A step is one Numba call over all layers (see program.py) unless a layer has no kernel
    row (Delay); then it is one call per layer. Either way each synapse layer chooses its
    loops per step from the density of its input (kernels.py); `synapse_path` forces them.
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
        # The whole step in one kernel call; the layers' arrays become views of its pools.
        self._fused = Program(self.layers, self.inputs, self._in, self._recurrent, self.in_shape) \
            if Program.supports(self.layers) else None
        if self._fused is not None:
            self._prev = self._fused.prev
            self._outs = list(self._fused.outs)
            self._out_buf = self._fused.outs[self._out]
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

    def synapse_path(self, path: str = "auto") -> None:
        """Which loops the Conv, Dense and pooling layers run: "auto" (per layer and step,
        from the measured density of its input), "dense" or "event" (every nonzero input
        scatters its weights). All three give the same outputs, bit for bit."""
        if path not in K.PATHS:
            raise ValueError(f"synapse path must be one of {', '.join(K.PATHS)}, got {path!r}")
        for layer in self.layers:
            if hasattr(layer, "path"):
                layer.path = K.PATHS[path]
        if self._fused is not None:
            self._fused.set_path(K.PATHS[path])

    def _step(self, x: np.ndarray) -> np.ndarray:
        if self._fused is not None:
            self._fused.x[...] = x
            self._fused.run()
            return self._out_buf
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

    def step(self, x: np.ndarray, record: tuple[str, ...] = ()):
        """Advance from the current state: one step for `x` of in_shape (returns out_shape),
        or one step per frame of `x` (steps, *in_shape) (returns (steps, *out_shape)).

        The outputs are fresh arrays. With `record` (layer names), returns
        (outputs, {name: that layer's outputs, shaped as the outputs are}).
        """
        if not record and self._fused is not None and np.shape(x) == self.in_shape:
            # One live step, the common call: no bookkeeping around the kernel.
            return self._step(x).copy()
        x = np.ascontiguousarray(x, dtype=np.float32)
        single = x.shape == self.in_shape
        if not single and x.shape[1:] != self.in_shape:
            raise ValueError(f"step input must have shape {self.in_shape} (one step) or (steps, "
                             f"{', '.join(map(str, self.in_shape))}) for {self.source or 'this network'}, "
                             f"got {x.shape}")
        frames = x[None] if single else x
        out = np.empty((len(frames),) + self.out_shape, np.float32)
        rec = {n: (self.names.index(n), np.empty((len(frames),) + self.layer(n).out_shape, np.float32))
               for n in record}
        for t in range(len(frames)):
            out[t] = self._step(frames[t])
            for i, buf in rec.values():
                buf[t] = self._outs[i]
        if single:
            out = out[0]
            rec = {n: (i, buf[0]) for n, (i, buf) in rec.items()}
        return (out, {n: buf for n, (_, buf) in rec.items()}) if record else out

    def to_nir(self) -> nir.NIRGraph:
        """This network as a flat NIRGraph (current weights and parameters)."""
        from .nir_export import to_nir
        return to_nir(self)

    def save(self, path: str | Path) -> Path:
        """Write this network as a NIR file."""
        from .nir_export import save
        return save(self, path)

    def classify(self, frames: np.ndarray, early_exit: DynamicConfidence | None = None,
                 reset: bool = True) -> InferResult:
        """Classify one sample: reset, step until the early-exit rule stops (or the frames
        end). Without a rule, every frame is used."""
        if reset:
            self.reset()
        rule = early_exit or DynamicConfidence.full_window(len(frames))
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        if frames.shape[1:] != self.in_shape:
            raise ValueError(f"frames must have shape (steps, {', '.join(map(str, self.in_shape))}) for "
                             f"{self.source or 'this network'}, got {frames.shape}")
        tracker = rule.tracker(int(np.prod(self.out_shape)), self.readout_layer)
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
