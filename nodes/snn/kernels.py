"""Numba kernels of one simulation step: synapses (conv, dense, pooling) and neurons.

Every kernel writes into a preallocated float32 output and allocates nothing, so a
step costs the arithmetic plus one dispatch per layer. Conv and dense layers take an
event-driven path (only nonzero inputs scatter into the output) when the input is
sparse, the dense loops otherwise; both give the same sums up to float rounding.
The choice is made per step from the number of nonzero inputs: scatter when its
multiply-adds (nonzero inputs × weights each reaches), weighted by SCATTER_COST for
its scattered writes, are fewer than the dense loops'.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Relative cost of one scattered multiply-add against one in the dense loops (measured on
# the N-MNIST CNN: the dense loops vectorise along rows, the scatter only along channels).
SCATTER_COST = 3

# Spike/reset rules of the spiking neurons (see conventions.py).
RULE_NONE = 0        # no spikes: output the membrane potential (LI, I, CubaLI)
RULE_RESET = 1       # one spike when v > θ (or ≥), v := v_reset
RULE_MULTI = 2       # floor(v/θ) spikes when v ≥ θ, v -= spikes·θ, v floored at v_min
RULE_SUBTRACT = 3    # one spike when v > θ (or ≥), v -= θ


@njit(cache=True, nogil=True)
def _nonzero(x: np.ndarray, idx: np.ndarray) -> int:
    n = 0
    for i in range(x.size):
        if x[i] != 0.0:
            idx[n] = i
            n += 1
    return n


@njit(cache=True, nogil=True)
def conv2d(x, w, b, sy, sx, py, px, dy, dx, groups, idx, out):
    """out[o] = b[o] + sum over (c, ky, kx) of w[o, c, ky, kx] * x[c, y*sy - py + ky*dy, ...].

    x (C, H, W), w (O, C/groups, KH, KW), out (O, HO, WO); idx is scratch of size x.size.
    """
    C, H, W = x.shape
    O, CG, KH, KW = w.shape
    _, HO, WO = out.shape
    OG = O // groups
    for o in range(O):
        bo = b[o]
        for i in range(HO):
            for j in range(WO):
                out[o, i, j] = bo
    xf = x.ravel()
    n = _nonzero(xf, idx)
    if n * KH * KW * OG * SCATTER_COST < O * CG * KH * KW * HO * WO:
        # Event-driven: each nonzero input adds its weights to the outputs it reaches.
        for e in range(n):
            k = idx[e]
            c = k // (H * W)
            r = k - c * H * W
            yy = r // W
            xx = r - yy * W
            v = xf[k]
            g = c // CG
            cl = c - g * CG
            for ky in range(KH):
                ny = yy + py - ky * dy
                if ny < 0 or ny % sy != 0:
                    continue
                oy = ny // sy
                if oy >= HO:
                    continue
                for kx in range(KW):
                    nx = xx + px - kx * dx
                    if nx < 0 or nx % sx != 0:
                        continue
                    ox = nx // sx
                    if ox >= WO:
                        continue
                    for o in range(g * OG, (g + 1) * OG):
                        out[o, oy, ox] += v * w[o, cl, ky, kx]
        return
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


@njit(cache=True, nogil=True)
def _valid_range(offset, stride, size, n_out):
    """Outputs k in [k0, k1) with 0 <= k*stride + offset < size."""
    k0 = 0 if offset >= 0 else (-offset + stride - 1) // stride
    last = size - 1 - offset
    k1 = 0 if last < 0 else min(n_out, last // stride + 1)
    return k0, max(k0, k1)


@njit(cache=True, nogil=True)
def dense(x, w, wt, b, idx, out):
    """out = w @ x + b, with w (O, I) and its transpose wt (I, O) for the scatter path."""
    O, I = w.shape
    n = _nonzero(x, idx)
    # Both paths do n·O vs I·O multiply-adds; the scatter's run along contiguous rows of wt.
    if 2 * n < I:
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
def pool2d(x, ky_, kx_, sy, sx, py, px, scale, idx, out):
    """Sum pooling (scale 1) or average pooling (scale 1/(ky·kx)) with zero padding.

    Sparse input scatters each nonzero value into the windows that hold it.
    """
    C, H, W = x.shape
    _, HO, WO = out.shape
    xf = x.ravel()
    n = _nonzero(xf, idx)
    if n * SCATTER_COST < out.size * ky_ * kx_:
        out[...] = 0.0
        for e in range(n):
            k = idx[e]
            c = k // (H * W)
            r = k - c * H * W
            yy = r // W
            xx = r - yy * W
            v = xf[k] * scale
            for a in range(ky_):
                ny = yy + py - a
                if ny < 0 or ny % sy != 0 or ny // sy >= HO:
                    continue
                for bb in range(kx_):
                    nx = xx + px - bb
                    if nx < 0 or nx % sx != 0 or nx // sx >= WO:
                        continue
                    out[c, ny // sy, nx // sx] += v
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

    All arrays are flat and of one size; `leak` is dt/τ (0 for integrators), `gain` r·dt/τ.
    `strict` compares v > θ, otherwise v ≥ θ. RULE_NONE outputs v itself. With `delayed`
    the reset of a spike applies one step later (out still holds last step's spikes).
    Each rule has its own branch-free loop, which the compiler vectorises.
    """
    n = x.size
    if rule == RULE_NONE:
        for i in range(n):
            vi = v[i] + leak[i] * (v_leak[i] - v[i]) + gain[i] * x[i]
            v[i] = vi
            out[i] = vi
    elif rule == RULE_MULTI:
        for i in range(n):
            vi = v[i] + leak[i] * (v_leak[i] - v[i]) + gain[i] * x[i]
            s = np.float32(0.0)
            if vi >= thr[i]:  # most neurons are silent: divide only for those that fire
                s = np.float32(np.floor(vi / thr[i]))
                vi -= s * thr[i]
            v[i] = vi if vi > v_min else v_min
            out[i] = s
    elif delayed:
        sub = rule == RULE_SUBTRACT
        for i in range(n):
            vi = v[i] + leak[i] * (v_leak[i] - v[i]) + gain[i] * x[i]
            if out[i] != 0.0:
                vi = vi - thr[i] if sub else v_reset[i]
            fire = vi > thr[i] if strict else vi >= thr[i]
            out[i] = np.float32(1.0) if fire else np.float32(0.0)
            v[i] = vi
    else:
        sub = rule == RULE_SUBTRACT
        for i in range(n):
            vi = v[i] + leak[i] * (v_leak[i] - v[i]) + gain[i] * x[i]
            th = thr[i]
            fire = vi > th if strict else vi >= th
            if fire:
                vi = vi - th if sub else v_reset[i]
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
