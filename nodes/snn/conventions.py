"""How spiking neurons fire and reset: the rules of the framework a graph came from.

NIR fixes the continuous-time equations but each exporter discretises the spike and
reset its own way, and a trained network is only accurate under the rules it was
trained with. Leaky integration is forward Euler for every convention
(v += dt/τ·(v_leak − v) + r·dt/τ·x, which is also snnTorch's β = 1 − dt/τ form);
integrators (I, IF) add r·x per step, the discrete reading every exporter uses.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import kernels as K


@dataclass(frozen=True)
class Convention:
    name: str
    rule: int            # spike/reset rule of IF/LIF (kernels.RULE_*)
    strict: bool         # spike when v > θ (True) or v ≥ θ (False)
    v_min: float         # floor of v under RULE_MULTI
    current_first: bool  # Cuba neurons: the membrane sees this step's synaptic current
    cuba_rule: int       # spike/reset rule of CubaLIF


CONVENTIONS: dict[str, Convention] = {
    # The NIR definition: one spike when v > θ, then v := v_reset.
    "nir": Convention("nir", K.RULE_RESET, True, -1.0, True, K.RULE_RESET),
    # sinabs IAF/LIF with MultiSpike: floor(v/θ) spikes when v ≥ θ, subtract, v ≥ min_v_mem = −1.
    "sinabs": Convention("sinabs", K.RULE_MULTI, False, -1.0, True, K.RULE_SUBTRACT),
    # snnTorch Leaky/Synaptic: spike when v > θ, subtract θ; Synaptic adds input to the
    # current before the membrane update.
    "snntorch": Convention("snntorch", K.RULE_SUBTRACT, True, -1.0, True, K.RULE_SUBTRACT),
    # Norse LIFBox/LIF: spike when v > θ, v := v_reset; the membrane sees last step's current.
    "norse": Convention("norse", K.RULE_RESET, True, -1.0, False, K.RULE_RESET),
}


def get(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise ValueError(f"unknown convention {name!r}; use one of {', '.join(CONVENTIONS)}") from None
