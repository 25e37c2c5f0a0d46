"""Loihi fixed-point numbers for a stage: 8-bit weight mantissas with a shared exponent,
12-bit decays, an integer threshold and 13-bit bias mantissas with an exponent.

Loihi's neuron (lava.proc.lif PyLifModelBitAcc) in integer units:
    u ← u·(4096 − (du + 1)) / 4096 + (a_in << 6)
    v ← v·(4096 − dv) / 4096 + u + bias_mant·2^bias_exp,   spike when v > vth << 6, then v ← 0
with a_in = Σ w·s, w = mantissa·2^weight_exp (a mixed-sign mantissa is even, in [−256, 254]).
A stage normalised to θ = 1 becomes integers by one scale: vth = S, weights ≈ S·W, bias ≈
64·S·b. S is the largest scale that keeps the biggest weight inside the mantissa for the
chosen exponent; the exponent is the largest one keeping vth ≤ 2^7. A smaller vth costs no
precision (the weights keep their 8 bits relative to the largest, and vth is exact), and it
leaves v ±1024 thresholds before the 24-bit membrane saturates: strongly inhibited neurons
of a float-trained network go far below 0, and clipping them there changed decisions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lowering import Stage

VTH_MAX = 2 ** 7      # our bound (hardware: 17 bits): v saturates at ±2^17 in a_in units = ±1024 θ
VTH_HW = 2 ** 17 - 1  # 17-bit threshold register
A_IN_MAX = 2 ** 17     # a_in << 6 must stay inside the 24-bit current (wraps beyond)


@dataclass
class FixedStage:
    stage: Stage
    mant: np.ndarray        # integer weight mantissas, same layout as stage.weight
    weight_exp: int
    sign_mixed: bool
    vth: int
    bias_mant: np.ndarray   # int, per neuron (flat NIR order)
    bias_exp: int
    du: int
    dv: int
    report: dict


def _rel_rms(q: np.ndarray, ref: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    norm = float(np.sqrt(np.mean(ref ** 2)))
    return 0.0 if norm == 0 else float(np.sqrt(np.mean((q - ref) ** 2)) / norm)


def quantize(stage: Stage) -> FixedStage:
    w = np.asarray(stage.weight, np.float64)
    wmax = float(np.abs(w).max())
    if wmax == 0:
        raise ValueError(f"NIR node {stage.name!r}: all incoming weights are 0")
    mixed = bool(w.min() < 0 < w.max())
    # Mixed-sign mantissas lose their lowest bit: even values in [-256, 254].
    mant_max = 254 if mixed else 255
    # Lava's fixed-point Conv applies no exponent: its weights are mantissa << exp, exp >= 0.
    lowest = 0 if stage.kind == "conv" else -8
    exp = lowest
    for e in range(7, lowest - 1, -1):
        if np.floor(mant_max * 2.0 ** e / wmax) <= VTH_MAX:
            exp = e
            break
    vth = int(np.floor(mant_max * 2.0 ** exp / wmax))
    if vth < 1 or vth > VTH_HW:
        raise ValueError(f"NIR node {stage.name!r}: weights from {wmax:g} times the threshold do not "
                         f"fit Loihi's 8-bit mantissas (threshold {vth} outside 1..{VTH_HW})")
    x = w * vth / 2.0 ** exp
    mant = np.clip(2 * np.round(x / 2), -256, 254) if mixed else np.clip(np.round(x), -255, 255)
    mant = mant.astype(np.int64)
    w_eff = mant * 2.0 ** exp / vth

    bias_v = np.asarray(stage.bias, np.float64) * vth * 64  # in v units (a_in << 6)
    bmax = float(np.abs(bias_v).max()) if bias_v.size else 0.0
    bias_exp = 0
    while bmax / 2 ** bias_exp > 4095 and bias_exp < 7:
        bias_exp += 1
    bias_mant = np.clip(np.round(bias_v / 2 ** bias_exp), -4096, 4095).astype(np.int64)
    bias_eff = bias_mant * 2.0 ** bias_exp / (vth * 64)

    dv = int(np.clip(np.round(stage.leak * 4096), 0, 4095))
    du = int(np.clip(np.round(stage.syn_leak * 4096) - 1, 0, 4095))  # the chip adds 1 to du

    # The largest input one step of binary spikes can bring (a dense row, a conv window).
    pos = np.clip(mant * 2.0 ** exp, 0, None)
    a_in_bound = float(pos.reshape(pos.shape[0], -1).sum(axis=1).max())
    report = {
        "layer": stage.name, "neuron": stage.neuron, "connection": stage.kind,
        "linear_nodes": stage.linear_nodes, "neurons": stage.n_out, "synapses": stage.synapses,
        "weight_exp": exp, "vth": vth, "bias_exp": bias_exp, "du": du, "dv": dv,
        "weight_rel_rms": _rel_rms(w_eff, w),
        "weight_max_abs_err": float(np.abs(w_eff - w).max()),
        "bias_rel_rms": _rel_rms(bias_eff, stage.bias),
        "bias_clipped": int(np.count_nonzero(np.abs(np.round(bias_v / 2 ** bias_exp)) > 4095)),
        "leak": stage.leak, "leak_quantized": dv / 4096,
        "syn_leak": stage.syn_leak, "syn_leak_quantized": (du + 1) / 4096,
        "input_headroom": A_IN_MAX / max(a_in_bound, 1.0),
    }
    return FixedStage(stage, mant, exp, mixed, vth, bias_mant, bias_exp, du, dv, report)
