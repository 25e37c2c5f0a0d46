"""Numba kernels of one simulation step: synapses (conv, dense, pooling) and neurons.

Every kernel writes into a preallocated float32 output and allocates nothing, so a
step costs the arithmetic plus one dispatch per layer. Conv and dense layers take an
event-driven path (only nonzero inputs scatter into the output) when the input is
sparse, the dense loops otherwise; both give the same sums up to float rounding.
The choice is made per layer and per step from the density measured online, the number
of nonzero inputs: scatter when its multiply-adds (nonzero inputs × weights each
reaches), weighted by SCATTER_COST for its scattered writes, are fewer than the dense
loops'. `path` forces one (PATH_DENSE, PATH_EVENT) for tests and measurements.

Both paths add each output's terms in the same order (input channel, then kernel row,
then kernel column; the scatter visits inputs in that same order) and a zero input adds
nothing, so they give bit-identical sums: the path never changes a spike.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

# Relative cost of one scattered multiply-add against one in the dense loops (measured on
# the N-MNIST CNN: the dense loops vectorise along rows, the scatter only along channels).
SCATTER_COST = 3

# Which synapse loops a layer runs (see the module's docstring).
PATH_AUTO = 0
PATH_DENSE = 1
PATH_EVENT = 2
PATHS = {"auto": PATH_AUTO, "dense": PATH_DENSE, "event": PATH_EVENT}

# Spike/reset rules of the spiking neurons (see conventions.py).
RULE_NONE = 0        # no spikes: output the membrane potential (LI, I, CubaLI)
RULE_RESET = 1       # one spike when v > θ (or ≥), v := v_reset
RULE_MULTI = 2       # floor(v/θ) spikes when v ≥ θ, v -= spikes·θ, v floored at v_min
RULE_SUBTRACT = 3    # one spike when v > θ (or ≥), v -= θ


def _at(a, i):
    """a[i] for a per-neuron parameter, a itself for one shared by every neuron."""


@overload(_at, inline="always")
def _at_impl(a, i):
    if isinstance(a, types.Array):
        return lambda a, i: a[i]
    return lambda a, i: a


BLOCK = 16  # inputs tested at once for all-zero by _nonzero


@njit(cache=True, nogil=True)
def _nonzero(x: np.ndarray, idx: np.ndarray) -> int:
    """Indices of the nonzero entries of flat x into idx; their count.

    Spiking inputs are mostly zero, so each block of BLOCK values is first tested at once
    (an integer OR of their bits without the sign, which vectorises; -0.0 counts as zero)
    and only blocks holding a nonzero value are walked, branch-free: the index is written
    anyway and kept only when the value is nonzero.
    """
    bits = x.view(np.int32)
    n = 0
    size = x.size
    full = size - size % BLOCK
    for b0 in range(0, full, BLOCK):
        acc = np.int32(0)
        for i in range(b0, b0 + BLOCK):
            acc |= bits[i] << 1
        if acc != 0:
            for i in range(b0, b0 + BLOCK):
                idx[n] = i
                n += x[i] != 0.0
    for i in range(full, size):
        idx[n] = i
        n += x[i] != 0.0
    return n


@njit(cache=True, nogil=True, inline="always")
def _divmod(k, d, inv):
    """(k // d, k % d) for 0 <= k < 2**40 from inv = 1/d: the product of k + 1/2 and inv
    lies at least 1/(2d) away from an integer, far beyond double rounding, and a multiply
    costs a fraction of a 64-bit integer division (which the event loops would pay twice
    per event)."""
    q = int((k + 0.5) * inv)
    return q, k - q * d


@njit(cache=True, nogil=True)
def _scatter(path, events, dense_cost):
    """Whether to take the event-driven path: forced, or cheaper at this step's count."""
    if path == PATH_AUTO:
        return events * SCATTER_COST < dense_cost
    return path == PATH_EVENT


@njit(cache=True, nogil=True)
def conv2d(x, w, wt, b, sy, sx, py, px, dy, dx, groups, rows, cols, idx, acc, out, path=PATH_AUTO):
    """out[o] = b[o] + sum over (c, ky, kx) of w[o, c, ky, kx] * x[c, y*sy - py + ky*dy, ...].

    x (C, H, W), w (O, C/groups, KH, KW) and the same weights as wt (C/groups, KH, KW, O),
    out (O, HO, WO); rows and cols are the tap tables of `taps` for the two axes; idx
    (x.size) and acc (HO·WO, O) are scratch. The event-driven path accumulates in acc,
    output channels last, so that each tap of an input adds one contiguous row of wt (a
    vector loop), then transposes acc into out.
    """
    C, H, W = x.shape
    O, CG, KH, KW = w.shape
    _, HO, WO = out.shape
    OG = O // groups
    xf = x.ravel()
    n = _nonzero(xf, idx)
    if _scatter(path, n * KH * KW * OG, O * CG * KH * KW * HO * WO):
        # Event-driven: each nonzero input adds its weights to the outputs it reaches. With
        # few (input, tap) pairs against the outputs, straight into out (strided over the
        # channels); otherwise into acc, channels last, and transposed once.
        direct = n * KH * KW * 2 < HO * WO * sy * sx
        inv_hw, inv_w = 1.0 / (H * W), 1.0 / W
        if direct:
            for o in range(O):
                out[o] = b[o]
        else:
            for p in range(HO * WO):
                for o in range(O):
                    acc[p, o] = b[o]
        for e in range(n):
            k = idx[e]
            c, r = _divmod(k, H * W, inv_hw)
            yy, xx = _divmod(r, W, inv_w)
            v = xf[k]
            g = 0 if groups == 1 else c // CG
            cl = c - g * CG
            for ky in range(KH):
                oy = rows[yy, ky]
                if oy < 0:
                    continue
                for kx in range(KW):
                    ox = cols[xx, kx]
                    if ox < 0:
                        continue
                    wr = wt[cl, ky, kx, g * OG:(g + 1) * OG]
                    if direct:
                        for o in range(OG):
                            out[g * OG + o, oy, ox] += v * wr[o]
                    else:
                        a = acc[oy * WO + ox, g * OG:(g + 1) * OG]
                        for o in range(OG):
                            a[o] += v * wr[o]
        if direct:
            return
        out2 = out.reshape((O, HO * WO))
        for o in range(O):
            for p in range(HO * WO):
                out2[o, p] = acc[p, o]
        return
    for o in range(O):
        bo = b[o]
        for i in range(HO):
            for j in range(WO):
                out[o, i, j] = bo
    for o in range(O):
        g = o // OG
        for cl in range(CG):
            c = g * CG + cl
            for ky in range(KH):
                # Output rows/columns whose tap stays inside the input: no bounds test inside.
                oy = ky * dy - py
                i0, i1 = _valid_range(oy, sy, H, HO)
                for kx in range(KW):
                    wv = w[o, cl, ky, kx]
                    if wv == 0.0:
                        continue
                    ox = kx * dx - px
                    j0, j1 = _valid_range(ox, sx, W, WO)
                    for i in range(i0, i1):
                        yy = i * sy + oy
                        for j in range(j0, j1):
                            out[o, i, j] += wv * x[c, yy, j * sx + ox]


def taps(size: int, k: int, stride: int, pad: int, dil: int, n_out: int) -> np.ndarray:
    """Tap table of one axis of a convolution or pooling: [i, t] is the output that input
    position i reaches through kernel tap t (i = o·stride − pad + t·dil), or −1. Built once
    at load, so that the event-driven loops divide nothing."""
    table = np.full((max(size, 1), max(k, 1)), -1, np.int64)
    for i in range(size):
        for t in range(k):
            num = i + pad - t * dil
            if num >= 0 and num % stride == 0 and num // stride < n_out:
                table[i, t] = num // stride
    return table


@njit(cache=True, nogil=True)
def _valid_range(offset, stride, size, n_out):
    """Outputs k in [k0, k1) with 0 <= k*stride + offset < size."""
    k0 = 0 if offset >= 0 else (-offset + stride - 1) // stride
    last = size - 1 - offset
    k1 = 0 if last < 0 else min(n_out, last // stride + 1)
    return k0, max(k0, k1)


@njit(cache=True, nogil=True)
def dense(x, w, wt, b, idx, out, path=PATH_AUTO):
    """out = w @ x + b, with w (O, I) and its transpose wt (I, O) for the scatter path."""
    O, I = w.shape
    n = _nonzero(x, idx)
    # Both paths do n·O vs I·O multiply-adds; the scatter's run along contiguous rows of wt.
    if _scatter(path, 2 * n, I * SCATTER_COST):
        for o in range(O):
            out[o] = b[o]
        for e in range(n):
            k = idx[e]
            v = x[k]
            for o in range(O):
                out[o] += v * wt[k, o]
        return
    for o in range(O):
        s = b[o]
        for i in range(I):
            s += w[o, i] * x[i]
        out[o] = s


@njit(cache=True, nogil=True)
def pool2d(x, ky_, kx_, sy, sx, py, px, scale, rows, cols, idx, out, path=PATH_AUTO):
    """Sum pooling (scale 1) or average pooling (scale 1/(ky·kx)) with zero padding.

    Sparse input scatters each nonzero value into the windows that hold it; averages are
    scaled after the sums on both paths, so the two agree bit for bit.
    """
    C, H, W = x.shape
    _, HO, WO = out.shape
    xf = x.ravel()
    n = _nonzero(xf, idx)
    if _scatter(path, n, out.size * ky_ * kx_):
        out[...] = 0.0
        inv_hw, inv_w = 1.0 / (H * W), 1.0 / W
        for e in range(n):
            k = idx[e]
            c, r = _divmod(k, H * W, inv_hw)
            yy, xx = _divmod(r, W, inv_w)
            v = xf[k]
            for a in range(ky_):
                oy = rows[yy, a]
                if oy < 0:
                    continue
                for bb in range(kx_):
                    ox = cols[xx, bb]
                    if ox >= 0:
                        out[c, oy, ox] += v
        if scale != 1.0:
            for c in range(C):
                for i in range(HO):
                    for j in range(WO):
                        out[c, i, j] *= scale
        return
    for c in range(C):
        for i in range(HO):
            for j in range(WO):
                s = np.float32(0.0)
                for a in range(ky_):
                    yy = i * sy - py + a
                    if yy < 0 or yy >= H:
                        continue
                    for bb in range(kx_):
                        xx = j * sx - px + bb
                        if 0 <= xx < W:
                            s += x[c, yy, xx]
                out[c, i, j] = s * scale


@njit(cache=True, nogil=True)
def _delayed_reset(vi, spiked, th, vr, rule):
    """snnTorch's reset_delay: a spike of the last step resets this step's new potential."""
    if spiked != 0.0:
        if rule == RULE_SUBTRACT:
            return vi - th
        return vr
    return vi


@njit(cache=True, nogil=True)
def neuron(x, v, leak, gain, v_leak, thr, v_reset, rule, strict, v_min, delayed, out):
    """One step of LI/LIF/I/IF: v += leak·(v_leak − v) + gain·x, then the spike rule.

    x, v and out are flat arrays of one size; each parameter is such an array or, when every
    neuron shares it, a scalar (fewer streams through memory). `leak` is dt/τ (0 for
    integrators), `gain` r·dt/τ.
    `strict` compares v > θ, otherwise v ≥ θ. RULE_NONE outputs v itself. With `delayed`
    the reset of a spike applies one step later (out still holds last step's spikes).
    Each rule has its own branch-free loop, which the compiler vectorises.
    """
    n = x.size
    if rule == RULE_NONE:
        for i in range(n):
            vi = v[i] + _at(leak, i) * (_at(v_leak, i) - v[i]) + _at(gain, i) * x[i]
            v[i] = vi
            out[i] = vi
    elif rule == RULE_MULTI:
        # Most neurons stay below θ: a vectorised pass integrates and floors every one and
        # counts those that reached θ; only if some did, a second pass counts their spikes
        # (a division each).
        fired = 0
        for i in range(n):
            vi = v[i] + _at(leak, i) * (_at(v_leak, i) - v[i]) + _at(gain, i) * x[i]
            above = vi >= _at(thr, i)
            fired += np.int32(above)
            v[i] = vi if vi > v_min or above else v_min  # not floored where it fires
            out[i] = 0.0
        if fired:
            for i in range(n):
                vi = v[i]
                th = _at(thr, i)
                if vi >= th:
                    s = np.float32(np.floor(vi / th))
                    vi -= s * th
                    v[i] = vi if vi > v_min else v_min
                    out[i] = s
    elif delayed:
        sub = rule == RULE_SUBTRACT
        for i in range(n):
            vi = v[i] + _at(leak, i) * (_at(v_leak, i) - v[i]) + _at(gain, i) * x[i]
            if out[i] != 0.0:
                vi = vi - _at(thr, i) if sub else _at(v_reset, i)
            fire = vi > _at(thr, i) if strict else vi >= _at(thr, i)
            out[i] = np.float32(1.0) if fire else np.float32(0.0)
            v[i] = vi
    else:
        sub = rule == RULE_SUBTRACT
        for i in range(n):
            vi = v[i] + _at(leak, i) * (_at(v_leak, i) - v[i]) + _at(gain, i) * x[i]
            th = _at(thr, i)
            fire = vi > th if strict else vi >= th
            if fire:
                vi = vi - th if sub else _at(v_reset, i)
            out[i] = np.float32(1.0) if fire else np.float32(0.0)
            v[i] = vi


@njit(cache=True, nogil=True)
def cuba_neuron(x, syn, v, syn_leak, w_in, leak, gain, v_leak, thr, v_reset, rule, strict,
                current_first, delayed, out):
    """One step of CubaLI/CubaLIF: synaptic current I and membrane v.

    τs dI/dt = −I + w_in·x, τm dv/dt = v_leak − v + r·I. With `current_first` the
    membrane sees this step's current; otherwise last step's (forward Euler, Norse).
    `delayed` as in `neuron`.
    """
    for i in range(x.size):
        s_new = syn[i] + syn_leak[i] * (w_in[i] * x[i] - syn[i])
        cur = s_new if current_first else syn[i]
        syn[i] = s_new
        vi = v[i] + leak[i] * (v_leak[i] - v[i]) + gain[i] * cur
        if rule == RULE_NONE:
            v[i] = vi
            out[i] = vi
            continue
        if delayed:
            vi = _delayed_reset(vi, out[i], thr[i], v_reset[i], rule)
            fire = vi > thr[i] if strict else vi >= thr[i]
            out[i] = 1.0 if fire else 0.0
            v[i] = vi
            continue
        fire = vi > thr[i] if strict else vi >= thr[i]
        if fire:
            out[i] = 1.0
            if rule == RULE_SUBTRACT:
                vi -= thr[i]
            else:
                vi = v_reset[i]
        else:
            out[i] = 0.0
        v[i] = vi


@njit(cache=True, nogil=True)
def threshold(x, thr, out):
    for i in range(x.size):
        out[i] = 1.0 if x[i] > thr[i] else 0.0


@njit(cache=True, nogil=True)
def delay(x, buf, steps, head, out):
    """Per-element delay through a ring buffer buf (max_steps + 1, n); returns the new head."""
    depth = buf.shape[0]
    for i in range(x.size):
        buf[head, i] = x[i]
        out[i] = buf[(head - steps[i]) % depth, i]
    return (head + 1) % depth


# Rows of a network's step (program.py).
(OP_CONV, OP_DENSE, OP_POOL, OP_NEURON, OP_CUBA, OP_THRESHOLD, OP_SCALE, OP_COPY, OP_ZERO,
 OP_ADD) = range(10)


@njit(cache=True, nogil=True)
def run(ops, f, q):
    """One step of a whole network (program.py): run each row of `ops` over the pools, f
    (float32) holding every array and q (int64) the tap tables and scratch indices. A row
    is op, input offset, output offset, then the op's fields (program._fields). It lives
    here because Numba's cache keys a function on its own file only: a caller in another
    file would keep running stale copies of these kernels after they change."""
    for r in range(ops.shape[0]):
        op = ops[r]
        code, src, dst = op[0], op[1], op[2]
        if code == OP_CONV:
            C, H, W, O, CG, KH, KW, HO, WO = op[6], op[7], op[8], op[9], op[10], op[11], op[12], op[13], op[14]
            conv2d(f[src:src + C * H * W].reshape((C, H, W)),
                     f[op[3]:op[3] + O * CG * KH * KW].reshape((O, CG, KH, KW)),
                     f[op[23]:op[23] + O * CG * KH * KW].reshape((CG, KH, KW, O)), f[op[4]:op[4] + O],
                     op[15], op[16], op[17], op[18], op[19], op[20], op[21],
                     q[op[25]:op[25] + H * KH].reshape((H, KH)), q[op[26]:op[26] + W * KW].reshape((W, KW)),
                     q[op[5]:op[5] + C * H * W], f[op[24]:op[24] + HO * WO * O].reshape((HO * WO, O)),
                     f[dst:dst + O * HO * WO].reshape((O, HO, WO)), op[22])
        elif code == OP_DENSE:
            O, I = op[7], op[8]
            dense(f[src:src + I], f[op[3]:op[3] + O * I].reshape((O, I)),
                    f[op[4]:op[4] + O * I].reshape((I, O)), f[op[5]:op[5] + O], q[op[6]:op[6] + I],
                    f[dst:dst + O], op[9])
        elif code == OP_POOL:
            C, H, W, HO, WO = op[5], op[6], op[7], op[8], op[9]
            KH, KW = op[10], op[11]
            pool2d(f[src:src + C * H * W].reshape((C, H, W)), KH, KW, op[12], op[13], op[14],
                     op[15], f[op[3]], q[op[17]:op[17] + H * KH].reshape((H, KH)),
                     q[op[18]:op[18] + W * KW].reshape((W, KW)), q[op[4]:op[4] + C * H * W],
                     f[dst:dst + C * HO * WO].reshape((C, HO, WO)), op[16])
        elif code == OP_NEURON:
            n = op[3]
            if op[14]:
                neuron(f[src:src + n], f[op[4]:op[4] + n], f[op[5]], f[op[6]], f[op[7]], f[op[8]], f[op[9]],
                         op[11], op[12] != 0, f[op[10]], op[13] != 0, f[dst:dst + n])
            else:
                neuron(f[src:src + n], f[op[4]:op[4] + n], f[op[5]:op[5] + n], f[op[6]:op[6] + n],
                         f[op[7]:op[7] + n], f[op[8]:op[8] + n], f[op[9]:op[9] + n], op[11], op[12] != 0,
                         f[op[10]], op[13] != 0, f[dst:dst + n])
        elif code == OP_CUBA:
            n = op[3]
            cuba_neuron(f[src:src + n], f[op[4]:op[4] + n], f[op[5]:op[5] + n], f[op[6]:op[6] + n],
                          f[op[7]:op[7] + n], f[op[8]:op[8] + n], f[op[9]:op[9] + n], f[op[10]:op[10] + n],
                          f[op[11]:op[11] + n], f[op[12]:op[12] + n], op[13], op[14] != 0, op[15] != 0,
                          op[16] != 0, f[dst:dst + n])
        elif code == OP_THRESHOLD:
            n = op[3]
            threshold(f[src:src + n], f[op[4]:op[4] + n], f[dst:dst + n])
        elif code == OP_SCALE:
            n = op[3]
            for i in range(n):
                f[dst + i] = f[src + i] * f[op[4] + i]
        elif code == OP_COPY:
            n = op[3]
            for i in range(n):
                f[dst + i] = f[src + i]
        elif code == OP_ZERO:
            n = op[3]
            for i in range(n):
                f[dst + i] = 0.0
        elif code == OP_ADD:
            n = op[3]
            for i in range(n):
                f[dst + i] += f[src + i]
