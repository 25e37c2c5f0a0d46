"""Layers of a compiled network: each owns its parameters, state and output buffer.

`step(x)` takes this step's input (float32, the layer's input shape) and returns the
output buffer, which is overwritten by the next step (copy it to keep it).
"""
from __future__ import annotations

import numpy as np

from . import kernels as K
from .conventions import Convention

F32 = np.float32


def _flat(value, size: int, name: str, node: str) -> np.ndarray:
    """A parameter broadcast to the layer's flat size (scalars and per-neuron arrays)."""
    a = np.asarray(value, dtype=F32)
    try:
        return np.ascontiguousarray(np.broadcast_to(a.reshape(-1) if a.size == size else a, (size,)))
    except ValueError:
        raise ValueError(f"NIR node {node!r}: parameter {name} has shape {a.shape}, which does not "
                         f"fit {size} neurons") from None


class Layer:
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    def __init__(self, name: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
        self.name = name
        self.in_shape = tuple(int(s) for s in in_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.out = np.zeros(self.out_shape, F32)

    def reset(self) -> None:
        self.out[...] = 0.0

    def step(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.in_shape} -> {self.out_shape})"


class Identity(Layer):
    def step(self, x):
        self.out[...] = x
        return self.out


class Reshape(Layer):
    """NIR Flatten: axes start_dim..end_dim merged into one (a view, no copy)."""

    def __init__(self, name, in_shape, out_shape, start_dim: int = 0, end_dim: int = -1):
        super().__init__(name, in_shape, out_shape)
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def step(self, x):
        return x.reshape(self.out_shape)


class Conv2d(Layer):
    def __init__(self, name, in_shape, out_shape, weight, bias, stride, padding, dilation, groups):
        super().__init__(name, in_shape, out_shape)
        self.w = np.ascontiguousarray(weight, F32)
        self.b = np.ascontiguousarray(np.broadcast_to(np.asarray(bias, F32), (self.w.shape[0],)))
        self.padding_name = None  # 'same'/'valid' when the file said so (kept on export)
        self.sy, self.sx = (int(v) for v in stride)
        self.py, self.px = (int(v) for v in padding)
        self.dy, self.dx = (int(v) for v in dilation)
        self.groups = int(groups)
        self.idx = np.zeros(int(np.prod(in_shape)), np.int64)
        self.path = K.PATH_AUTO
        _, kh, kw = self.w.shape[1:]
        self.wt = np.ascontiguousarray(self.w.transpose(1, 2, 3, 0))  # event path: channels last
        self.acc = np.zeros((self.out_shape[1] * self.out_shape[2], self.w.shape[0]), F32)
        self.rows = K.taps(self.in_shape[1], kh, self.sy, self.py, self.dy, self.out_shape[1])
        self.cols = K.taps(self.in_shape[2], kw, self.sx, self.px, self.dx, self.out_shape[2])

    def step(self, x):
        K.conv2d(x, self.w, self.wt, self.b, self.sy, self.sx, self.py, self.px, self.dy, self.dx,
                 self.groups, self.rows, self.cols, self.idx, self.acc, self.out, self.path)
        return self.out


class Conv1d(Conv2d):
    """A 1-D convolution run as a 2-D one over a height of 1."""

    def __init__(self, name, in_shape, out_shape, weight, bias, stride, padding, dilation, groups):
        super().__init__(name, (in_shape[0], 1, in_shape[1]), (out_shape[0], 1, out_shape[1]),
                         np.asarray(weight)[:, :, None, :], bias, (1, stride[0]), (0, padding[0]),
                         (1, dilation[0]), groups)
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.out1 = self.out.reshape(self.out_shape)

    def step(self, x):
        super().step(x.reshape(x.shape[0], 1, x.shape[1]))
        return self.out1


class Dense(Layer):
    """Affine (bias) or Linear (no bias) over the last axis of a flat input."""

    def __init__(self, name, weight, bias=None, in_shape=None):
        w = np.ascontiguousarray(weight, F32)
        super().__init__(name, in_shape or (w.shape[1],), (w.shape[0],))
        self.w = w
        self.wt = np.ascontiguousarray(w.T)
        self.has_bias = bias is not None
        self.b = np.zeros(w.shape[0], F32) if bias is None else \
            np.ascontiguousarray(np.broadcast_to(np.asarray(bias, F32), (w.shape[0],)))
        self.idx = np.zeros(w.shape[1], np.int64)
        self.path = K.PATH_AUTO

    def step(self, x):
        K.dense(x.reshape(-1), self.w, self.wt, self.b, self.idx, self.out, self.path)
        return self.out


class Scale(Layer):
    def __init__(self, name, shape, scale):
        super().__init__(name, shape, shape)
        self.s = np.ascontiguousarray(np.broadcast_to(np.asarray(scale, F32), shape))

    def step(self, x):
        np.multiply(x, self.s, out=self.out)
        return self.out


class Pool2d(Layer):
    def __init__(self, name, in_shape, out_shape, kernel, stride, padding, average):
        super().__init__(name, in_shape, out_shape)
        self.ky, self.kx = (int(v) for v in kernel)
        self.sy, self.sx = (int(v) for v in stride)
        self.py, self.px = (int(v) for v in padding)
        self.average = bool(average)
        self.scale = F32(1.0 / (self.ky * self.kx) if average else 1.0)
        self.idx = np.zeros(int(np.prod(in_shape)), np.int64)
        self.path = K.PATH_AUTO
        self.rows = K.taps(self.in_shape[1], self.ky, self.sy, self.py, 1, self.out_shape[1])
        self.cols = K.taps(self.in_shape[2], self.kx, self.sx, self.px, 1, self.out_shape[2])

    def step(self, x):
        K.pool2d(x, self.ky, self.kx, self.sy, self.sx, self.py, self.px, self.scale, self.rows, self.cols,
                 self.idx, self.out, self.path)
        return self.out


class Neuron(Layer):
    """LI, LIF, I and IF: v += leak·(v_leak − v) + gain·x, then the convention's spike rule.

    `kind` is the NIR node type and `nir_params` its time constants and resistance as the
    file gave them (tau, r), kept so that export writes them back without rounding.
    """

    def __init__(self, name, shape, conv: Convention, *, leak, gain, v_leak, thr, v_reset,
                 spiking: bool, kind: str = "LIF", nir_params: dict | None = None):
        super().__init__(name, shape, shape)
        n = int(np.prod(shape))
        self.kind = kind
        self.nir_params = {k: _flat(v, n, k, name) for k, v in (nir_params or {}).items()}
        self.leak, self.gain = _flat(leak, n, "tau", name), _flat(gain, n, "r", name)
        self.v_leak = _flat(v_leak, n, "v_leak", name)
        self.thr = _flat(thr, n, "v_threshold", name)
        self.v_reset = _flat(v_reset, n, "v_reset", name)
        self.rule = conv.rule if spiking else K.RULE_NONE
        self.strict, self.v_min, self.delayed = conv.strict, F32(conv.v_min), conv.reset_delay
        self.v_start = self.v_leak if conv.start_at_rest else np.zeros(n, F32)
        self.v = np.zeros(n, F32)
        self.out_flat = self.out.reshape(-1)

    def reset(self):
        super().reset()
        self.v[:] = self.v_start

    def step(self, x):
        K.neuron(x.reshape(-1), self.v, self.leak, self.gain, self.v_leak, self.thr, self.v_reset,
                 self.rule, self.strict, self.v_min, self.delayed, self.out_flat)
        return self.out


class CubaNeuron(Layer):
    """CubaLI and CubaLIF: a leaky synaptic current feeding a leaky membrane."""

    def __init__(self, name, shape, conv: Convention, *, syn_leak, w_in, leak, gain, v_leak,
                 thr, v_reset, spiking: bool, nir_params: dict | None = None):
        super().__init__(name, shape, shape)
        n = int(np.prod(shape))
        self.kind = "CubaLIF" if spiking else "CubaLI"
        self.nir_params = {k: _flat(v, n, k, name) for k, v in (nir_params or {}).items()}
        self.syn_leak, self.w_in = _flat(syn_leak, n, "tau_syn", name), _flat(w_in, n, "w_in", name)
        self.leak, self.gain = _flat(leak, n, "tau_mem", name), _flat(gain, n, "r", name)
        self.v_leak = _flat(v_leak, n, "v_leak", name)
        self.thr = _flat(thr, n, "v_threshold", name)
        self.v_reset = _flat(v_reset, n, "v_reset", name)
        self.rule = conv.cuba_rule if spiking else K.RULE_NONE
        self.strict, self.current_first, self.delayed = conv.strict, conv.current_first, conv.reset_delay
        self.v_start = self.v_leak if conv.start_at_rest else np.zeros(n, F32)
        self.syn = np.zeros(n, F32)
        self.v = np.zeros(n, F32)
        self.out_flat = self.out.reshape(-1)

    def reset(self):
        super().reset()
        self.syn[:] = 0.0
        self.v[:] = self.v_start

    def step(self, x):
        K.cuba_neuron(x.reshape(-1), self.syn, self.v, self.syn_leak, self.w_in, self.leak,
                      self.gain, self.v_leak, self.thr, self.v_reset, self.rule, self.strict,
                      self.current_first, self.delayed, self.out_flat)
        return self.out


class Threshold(Layer):
    def __init__(self, name, shape, thr):
        super().__init__(name, shape, shape)
        self.thr = _flat(thr, int(np.prod(shape)), "theta", name)
        self.out_flat = self.out.reshape(-1)

    def step(self, x):
        K.threshold(x.reshape(-1), self.thr, self.out_flat)
        return self.out


class Delay(Layer):
    def __init__(self, name, shape, delay_s, dt: float):
        super().__init__(name, shape, shape)
        n = int(np.prod(shape))
        self.delay_s = _flat(delay_s, n, "delay", name)
        steps = np.rint(self.delay_s / dt).astype(np.int64)
        if (steps < 0).any():
            raise ValueError(f"NIR node {name!r}: negative delay")
        self.steps = steps
        self.buf = np.zeros((int(steps.max()) + 1, n), F32)
        self.head = 0
        self.out_flat = self.out.reshape(-1)

    def reset(self):
        super().reset()
        self.buf[...] = 0.0
        self.head = 0

    def step(self, x):
        self.head = K.delay(x.reshape(-1), self.buf, self.steps, self.head, self.out_flat)
        return self.out
