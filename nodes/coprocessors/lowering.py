"""A NIR network as the stages a neuromorphic chip runs: a connection, then spiking neurons.

Chips keep synapses and neurons apart: each stage here is one connection (a convolution
or a dense matrix, with the bias moved to the neurons) feeding one population of spiking
neurons. Whatever linear nodes stand between two neuron layers (Conv, SumPool, Flatten,
Affine, Scale) become a single dense matrix, measured by pushing unit inputs through the
engine's own layers; a lone Conv2d fed by the input or by a Conv stage stays a
convolution. Each neuron's gain r and threshold θ are folded into its incoming weights
and bias, so every population fires at v > 1 (threshold normalisation): this is what
lets one threshold per population, as on Loihi, hold per-neuron thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nodes.snn import layers as L
from nodes.snn import kernels as K
from nodes.snn.network import Network

LINEAR = (L.Conv2d, L.Dense, L.Pool2d, L.Reshape, L.Scale, L.Identity)
MAX_DENSE = 64_000_000  # matrix entries a dense stage may have (≈256 MB of int32)


@dataclass
class Stage:
    """One connection and the neuron population it drives, in normalised units (θ = 1)."""
    name: str                       # the neuron layer's NIR name
    kind: str                       # "conv" or "dense"
    neuron: str                     # NIR neuron type (IF, LIF, CubaLIF)
    in_shape: tuple[int, ...]       # NIR shapes
    out_shape: tuple[int, ...]
    weight: np.ndarray              # dense: (n_out, n_in) over NIR flat order; conv: (O, I, kh, kw)
    bias: np.ndarray                # per neuron (flat NIR order), added every step
    leak: float                     # dt/τ_mem (0 for IF)
    syn_leak: float                 # dt/τ_syn (1: no synaptic memory)
    thr_orig: np.ndarray = field(default_factory=lambda: np.ones(1))  # NIR thresholds
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    linear_nodes: list[str] = field(default_factory=list)

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def synapses(self) -> int:
        return int(np.count_nonzero(self.weight)) * (self._positions() if self.kind == "conv" else 1)

    def _positions(self) -> int:
        return int(np.prod(self.out_shape[1:]))


def _uniform(a: np.ndarray, what: str, name: str) -> float:
    a = np.asarray(a, np.float64).reshape(-1)
    if not np.allclose(a, a[0], rtol=1e-6, atol=0):
        raise ValueError(f"NIR node {name!r}: {what} differs between neurons ({a.min():g}..{a.max():g}); "
                         f"a chip population shares one value")
    return float(a[0])


def _chain(net: Network) -> list[int]:
    """Layer indices from input to output; refuses branches and recurrence."""
    order, seen, cur = [], set(), net._in
    succ: dict[int, list[int]] = {}
    for i, ins in enumerate(net.inputs):
        for s, delayed in ins:
            if delayed:
                raise ValueError(f"NIR node {net.names[i]!r} has a recurrent input; this backend "
                                 f"runs feed-forward chains only")
            succ.setdefault(s, []).append(i)
    while True:
        order.append(cur)
        seen.add(cur)
        nxt = succ.get(cur, [])
        if not nxt:
            break
        if len(nxt) > 1 or len(net.inputs[nxt[0]]) > 1:
            raise ValueError(f"NIR node {net.names[cur]!r} branches or merges; this backend runs "
                             f"feed-forward chains only")
        cur = nxt[0]
    if cur != net._out:
        raise ValueError("NIR graph: the output is not reached from the input by a single chain")
    return order


def _probe(layers: list[L.Layer], in_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The affine map of a chain of linear layers: (matrix, offset) over flat NIR order."""
    n_in = int(np.prod(in_shape))
    out_shape = layers[-1].out_shape if layers else in_shape
    n_out = int(np.prod(out_shape))
    if n_in * n_out > MAX_DENSE:
        names = ", ".join(lay.name for lay in layers)
        raise ValueError(f"NIR nodes {names}: as one dense matrix {n_out} x {n_in} is too large for "
                         f"this backend (limit {MAX_DENSE} entries)")

    def apply(x: np.ndarray) -> np.ndarray:
        for lay in layers:
            x = lay.step(x)
        return np.array(x, np.float64).reshape(-1)

    offset = apply(np.zeros(in_shape, np.float32))
    m = np.empty((n_out, n_in), np.float64)
    e = np.zeros(n_in, np.float32)
    for j in range(n_in):  # one unit input per column: exact, the layers are linear
        e[j] = 1.0
        m[:, j] = apply(e.reshape(in_shape)) - offset
        e[j] = 0.0
    return m, offset


def stages(net: Network, allow_conv: bool = True) -> list[Stage]:
    """Split a loaded Network into chip stages (all dense unless `allow_conv`); errors name
    the NIR node that cannot map."""
    if net.convention.rule != K.RULE_RESET or not net.convention.strict or net.convention.reset_delay:
        raise ValueError(f"convention {net.convention.name!r}: chip neurons spike once when v > θ and "
                         f"reset at once; use convention 'nir' (or 'norse') with reset 'v_reset'")
    out: list[Stage] = []
    pending: list[L.Layer] = []
    prev_shape = net.in_shape
    prev_conv_layout = True  # the input is injected in the chip's (x, y, channel) layout
    for i in _chain(net)[1:]:
        lay = net.layers[i]
        if isinstance(lay, LINEAR):
            pending.append(lay)
            continue
        kind = type(lay).__name__
        if not isinstance(lay, (L.Neuron, L.CubaNeuron)) or lay.rule == K.RULE_NONE:
            what = getattr(lay, "kind", kind)
            raise ValueError(f"NIR node {lay.name!r} is a {what}, which this backend cannot run "
                             f"(supported neurons: IF, LIF, CubaLIF; linear nodes: Affine, Linear, "
                             f"Conv2d, SumPool2d, AvgPool2d, Flatten, Scale)")
        name = lay.name
        if np.any(np.asarray(lay.v_reset) != 0):
            raise ValueError(f"NIR node {name!r}: v_reset must be 0 (chip neurons reset to 0)")
        if np.any(np.asarray(lay.v_start) != 0):
            raise ValueError(f"NIR node {name!r}: membranes start at v_leak ≠ 0 under convention "
                             f"{net.convention.name!r}; chip neurons start at 0")
        thr = np.asarray(lay.thr, np.float64)
        if np.any(thr <= 0):
            raise ValueError(f"NIR node {name!r}: v_threshold must be > 0")
        if isinstance(lay, L.CubaNeuron):
            syn_leak = _uniform(lay.syn_leak, "tau_syn", name)
            gain = np.asarray(lay.gain, np.float64) * np.asarray(lay.w_in, np.float64)
        else:
            syn_leak = 1.0
            gain = np.asarray(lay.gain, np.float64)
        leak = _uniform(lay.leak, "tau", name)
        # v_leak pulls v towards it at rate leak: a constant input of leak·v_leak per step.
        rest = leak * np.asarray(lay.v_leak, np.float64)
        factor = gain / thr  # per neuron: the weights and bias that make θ = 1
        conv_ok = (len(pending) == 1 and isinstance(pending[0], L.Conv2d) and not isinstance(pending[0], L.Conv1d)
                   and prev_conv_layout and allow_conv)
        if conv_ok:
            c = pending[0]
            per_ch = factor.reshape(c.out_shape[0], -1)
            rest_ch = rest.reshape(c.out_shape[0], -1)
            conv_ok = bool(np.allclose(per_ch, per_ch[:, :1]) and np.allclose(rest_ch, rest_ch[:, :1]))
        if conv_ok:
            c = pending[0]
            f_ch = per_ch[:, 0]
            w = c.w.astype(np.float64) * f_ch[:, None, None, None]
            bias = np.repeat(c.b.astype(np.float64) * f_ch, int(np.prod(c.out_shape[1:])))
            bias = bias + rest / thr
            st = Stage(name, "conv", lay.kind if hasattr(lay, "kind") else kind, c.in_shape, c.out_shape,
                       w, bias, leak, syn_leak, thr, (c.sy, c.sx), (c.py, c.px), (c.dy, c.dx), c.groups,
                       [c.name])
        else:
            m, offset = _probe(pending, prev_shape)
            w = m * factor[:, None]
            bias = offset * factor + rest / thr
            st = Stage(name, "dense", getattr(lay, "kind", kind), prev_shape, lay.out_shape, w, bias,
                       leak, syn_leak, thr, linear_nodes=[p.name for p in pending])
        out.append(st)
        prev_conv_layout = st.kind == "conv"
        prev_shape = lay.out_shape
        pending = []
    if not out:
        raise ValueError("NIR graph has no spiking neuron layer to run")
    if any(not isinstance(p, (L.Identity,)) for p in pending):
        names = ", ".join(p.name for p in pending)
        raise ValueError(f"NIR nodes {names} follow the last spiking layer; this backend reads "
                         f"output spikes, so the graph must end in spiking neurons")
    return out
