"""One step of a whole network as one Numba call.

At batch size 1 a step's arithmetic is a few microseconds (most inputs are zero and the
synapse kernels scatter only the nonzero ones), so calling one kernel per layer from
Python would cost more than the work. `Program` packs every layer's parameters, state
and buffers into one float32 pool and one int64 pool, rebinds the layers' arrays to views
of them (so the layers, export, readouts and tests see the same memory), and lists the
kernels to run as rows of an int64 table that `kernels.run` walks in one call.

Networks with a layer this table has no row for (Delay, whose ring buffer keeps its
head in Python) are stepped layer by layer, as before.
"""
from __future__ import annotations

import numpy as np

from . import kernels as K
from . import layers as L
from .kernels import (OP_ADD, OP_CONV, OP_COPY, OP_CUBA, OP_DENSE, OP_NEURON, OP_POOL, OP_SCALE,
                      OP_THRESHOLD, OP_ZERO)

F32 = np.float32
ALIGN = 16  # pool entries start on 64-byte boundaries, so vector loops load aligned data

WIDTH = 28  # ints in one row of the table: op, input, output, then the op's own fields

# Array attributes of each layer type that live in the pool; the rest of a layer is
# plain Python (names, shapes, rules).
POOLED = {
    L.Conv2d: ("w", "wt", "b", "acc", "out"),
    L.Dense: ("w", "wt", "b", "out"),
    L.Pool2d: ("out",),
    L.Neuron: ("leak", "gain", "v_leak", "thr", "v_reset", "v", "out"),
    L.CubaNeuron: ("syn_leak", "w_in", "leak", "gain", "v_leak", "thr", "v_reset", "syn", "v", "out"),
    L.Threshold: ("thr", "out"),
    L.Scale: ("s", "out"),
    L.Identity: ("out",),
    L.Reshape: (),
}


class _Pools:
    """Offsets into the float and int pools, filled once every entry is known."""

    def __init__(self) -> None:
        self.f: list[tuple[int, np.ndarray]] = []
        self.i: list[tuple[int, np.ndarray]] = []
        self.nf = self.ni = 0

    def add(self, a: np.ndarray, ints: bool = False) -> int:
        a = np.ascontiguousarray(a, np.int64 if ints else F32)
        if ints:
            off, self.ni = self.ni, self.ni + -(-max(a.size, 1) // ALIGN) * ALIGN
            self.i.append((off, a))
        else:
            off, self.nf = self.nf, self.nf + -(-max(a.size, 1) // ALIGN) * ALIGN
            self.f.append((off, a))
        return off

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        f = _aligned(self.nf, F32)
        q = _aligned(self.ni, np.int64)
        for off, a in self.f:
            f[off:off + a.size] = a.reshape(-1)
        for off, a in self.i:
            q[off:off + a.size] = a.reshape(-1)
        return f, q


def _aligned(n: int, dtype) -> np.ndarray:
    raw = np.zeros(n + ALIGN * 2, dtype)
    skip = (-raw.ctypes.data % 64) // raw.itemsize
    return raw[skip:skip + n]


class Program:
    """The layers of a network (in execution order, with their inputs) as one kernel call.

    `run()` steps the network once from `x` (the input buffer; write the frame into it)
    and leaves every layer's output in its buffer (`outs[i]`).
    """

    def __init__(self, layers: list[L.Layer], inputs: list[list[tuple[int, bool]]], input_index: int,
                 recurrent: list[int], in_shape: tuple[int, ...]) -> None:
        pools = _Pools()
        offs = [{a: pools.add(getattr(lay, a)) for a in _pooled(lay)} for lay in layers]
        x_off = pools.add(np.zeros(in_shape, F32))
        idx = {i: pools.add(lay.idx, ints=True) for i, lay in enumerate(layers) if hasattr(lay, "idx")}
        tables = {i: (pools.add(lay.rows, ints=True), pools.add(lay.cols, ints=True))
                  for i, lay in enumerate(layers) if hasattr(lay, "rows")}
        scale = {i: pools.add(np.array([lay.scale])) for i, lay in enumerate(layers) if isinstance(lay, L.Pool2d)}
        vmin = {i: pools.add(np.array([lay.v_min])) for i, lay in enumerate(layers) if isinstance(lay, L.Neuron)}
        acc = {i: pools.add(np.zeros(layers[i].in_shape, F32)) for i in range(len(layers)) if len(inputs[i]) > 1}
        prev = {s: pools.add(np.zeros(layers[s].out_shape, F32)) for s in recurrent}
        self.pool, self.ipool = pools.build()
        f = self.pool

        def view(off: int, a: np.ndarray) -> np.ndarray:
            return f[off:off + a.size].reshape(a.shape)

        for lay, o in zip(layers, offs):
            for a, off in o.items():
                setattr(lay, a, view(off, getattr(lay, a)))
            if hasattr(lay, "out_flat"):
                lay.out_flat = lay.out.reshape(-1)
            if isinstance(lay, L.Conv1d):
                lay.out1 = lay.out.reshape(lay.out_shape)
        q = self.ipool
        for i, off in idx.items():
            layers[i].idx = q[off:off + layers[i].idx.size]
        for i, (r, c) in tables.items():
            lay = layers[i]
            lay.rows = q[r:r + lay.rows.size].reshape(lay.rows.shape)
            lay.cols = q[c:c + lay.cols.size].reshape(lay.cols.shape)
        self.x = f[x_off:x_off + int(np.prod(in_shape))].reshape(in_shape)
        self.prev = {s: view(off, layers[s].out) for s, off in prev.items()}

        # Where each layer's output lives: its own buffer, or (Reshape) its input's.
        out_at: list[int] = [0] * len(layers)
        rows: list[list[int]] = []
        for i, lay in enumerate(layers):
            if i == input_index:
                out_at[i] = x_off
                continue
            if i in acc:
                n_in = int(np.prod(lay.in_shape))
                rows.append([OP_ZERO, 0, acc[i], n_in])
                for s, delayed in inputs[i]:
                    rows.append([OP_ADD, prev[s] if delayed else out_at[s], acc[i], n_in])
                src = acc[i]
            else:
                s, delayed = inputs[i][0]
                src = prev[s] if delayed else out_at[s]
            if isinstance(lay, L.Reshape):
                out_at[i] = src
                continue
            out_at[i] = offs[i]["out"]
            rows.append([_code(lay), src, out_at[i]] + _fields(lay, offs[i], idx.get(i), scale.get(i),
                                                              vmin.get(i)) + list(tables.get(i, ())))
        for s in recurrent:
            rows.append([OP_COPY, out_at[s], prev[s], int(np.prod(layers[s].out_shape))])
        self.ops = np.zeros((len(rows), WIDTH), np.int64)
        for r, row in enumerate(rows):
            self.ops[r, :len(row)] = row
        self.outs = [f[o:o + int(np.prod(lay.out_shape))].reshape(lay.out_shape)
                     for o, lay in zip(out_at, layers)]

    @staticmethod
    def supports(layers: list[L.Layer]) -> bool:
        return all(_pooled(lay) is not None for lay in layers)

    def run(self) -> None:
        K.run(self.ops, self.pool, self.ipool)

    def set_path(self, path: int) -> None:
        """Force the synapse loops of every layer (kernels.PATH_*)."""
        for row in self.ops:
            if row[0] in PATH_COLUMN:
                row[PATH_COLUMN[row[0]]] = path


# Where the synapse path sits in a row of each op that has one.
PATH_COLUMN = {OP_CONV: 22, OP_DENSE: 9, OP_POOL: 16}


def _pooled(lay: L.Layer) -> tuple[str, ...] | None:
    """The pooled attributes of a layer's type (or its nearest base class), None if it has
    no row (Delay)."""
    for cls in type(lay).__mro__:
        if cls in POOLED:
            return POOLED[cls]
    return None


def _code(lay: L.Layer) -> int:
    for cls, code in ((L.Conv2d, OP_CONV), (L.Dense, OP_DENSE), (L.Pool2d, OP_POOL), (L.Neuron, OP_NEURON),
                      (L.CubaNeuron, OP_CUBA), (L.Threshold, OP_THRESHOLD), (L.Scale, OP_SCALE),
                      (L.Identity, OP_COPY)):
        if isinstance(lay, cls):
            return code
    raise TypeError(f"no kernel row for {lay!r}")


def _fields(lay: L.Layer, o: dict[str, int], idx: int | None, scale: int | None, vmin: int | None) -> list[int]:
    """The op's own fields after (op, input, output): pool offsets, shapes and flags (then,
    for Conv and pooling, the offsets of their tap tables)."""
    if isinstance(lay, L.Conv2d):
        C, H, W = lay.in_shape if len(lay.in_shape) == 3 else (lay.in_shape[0], 1, lay.in_shape[1])
        O, CG, KH, KW = lay.w.shape
        _, HO, WO = lay.out.shape
        return [o["w"], o["b"], idx, C, H, W, O, CG, KH, KW, HO, WO, lay.sy, lay.sx, lay.py, lay.px,
                lay.dy, lay.dx, lay.groups, lay.path, o["wt"], o["acc"]]
    if isinstance(lay, L.Dense):
        O, I = lay.w.shape
        return [o["w"], o["wt"], o["b"], idx, O, I, lay.path]
    if isinstance(lay, L.Pool2d):
        C, H, W = lay.in_shape
        _, HO, WO = lay.out_shape
        return [scale, idx, C, H, W, HO, WO, lay.ky, lay.kx, lay.sy, lay.sx, lay.py, lay.px, lay.path]
    n = int(np.prod(lay.out_shape))
    if isinstance(lay, L.Neuron):
        # Parameters every neuron shares go to the kernel as scalars (read from the pool at
        # each step, so an in-place change of a shared value still applies).
        shared = all(np.all(a == a[0]) for a in (lay.leak, lay.gain, lay.v_leak, lay.thr, lay.v_reset))
        return [n, o["v"], o["leak"], o["gain"], o["v_leak"], o["thr"], o["v_reset"], vmin, lay.rule,
                int(lay.strict), int(lay.delayed), int(shared)]
    if isinstance(lay, L.CubaNeuron):
        return [n, o["syn"], o["v"], o["syn_leak"], o["w_in"], o["leak"], o["gain"], o["v_leak"], o["thr"],
                o["v_reset"], lay.rule, int(lay.strict), int(lay.current_first), int(lay.delayed)]
    if isinstance(lay, L.Threshold):
        return [n, o["thr"]]
    if isinstance(lay, L.Scale):
        return [n, o["s"]]
    return [n]  # Identity
