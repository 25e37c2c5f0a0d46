"""How spiking neurons fire and reset: the rules of the framework a graph came from.

NIR fixes the continuous-time equations but each exporter discretises the spike and
reset its own way, and a trained network is only accurate under the rules it was
trained with. Leaky integration is forward Euler for every convention
(v += dt/τ·(v_leak − v) + r·dt/τ·x, which is also snnTorch's β = 1 − dt/τ form);
integrators (I, IF) add r·x per step, the discrete reading every exporter uses.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import kernels as K


@dataclass(frozen=True)
class Convention:
    name: str
    rule: int            # spike/reset rule of IF/LIF (kernels.RULE_*)
    strict: bool         # spike when v > θ (True) or v ≥ θ (False)
    v_min: float         # floor of v under RULE_MULTI
    current_first: bool  # Cuba neurons: the membrane sees this step's synaptic current
    cuba_rule: int       # spike/reset rule of CubaLIF
    reset_delay: bool = False  # a spike resets the potential of the next step (snnTorch)
    start_at_rest: bool = False  # membranes start at v_leak instead of 0 (Norse)


CONVENTIONS: dict[str, Convention] = {
    # The NIR definition: one spike when v > θ, then v := v_reset.
    "nir": Convention("nir", K.RULE_RESET, True, -1.0, True, K.RULE_RESET),
    # sinabs IAF/LIF with MultiSpike: floor(v/θ) spikes when v ≥ θ, subtract, v ≥ min_v_mem = −1.
    "sinabs": Convention("sinabs", K.RULE_MULTI, False, -1.0, True, K.RULE_SUBTRACT),
    # snnTorch neurons with their defaults (reset_mechanism="subtract", reset_delay=True):
    # spike when v > θ; the reset lands on the next step's potential (subtract θ from it,
    # or replace it by 0 under reset="v_reset", snnTorch's "zero"). Synaptic/RSynaptic add
    # the input to the current before the membrane update. (snntorch.import_from_nir builds
    # reset_delay=False neurons that reset to 0 at once: the "nir" convention.)
    "snntorch": Convention("snntorch", K.RULE_SUBTRACT, True, -1.0, True, K.RULE_SUBTRACT, True),
    # Norse (norse.torch.from_nir): LIFBox spikes when v > θ and sets v := v_reset; a
    # CubaLIF is an LIBox synapse feeding a LIFBox, so the membrane sees this step's current;
    # membranes start at rest (v_leak).
    "norse": Convention("norse", K.RULE_RESET, True, -1.0, True, K.RULE_RESET, start_at_rest=True),
}


# How a spiking neuron resets, when a graph was trained with another mechanism than its
# framework's default (snnTorch's reset_mechanism="zero" or "subtract", for example).
RESETS = ("v_reset", "subtract")


def get(name: str, reset: str | None = None) -> Convention:
    """The convention `name`, with its reset mechanism replaced by `reset` if given."""
    try:
        conv = CONVENTIONS[name]
    except KeyError:
        raise ValueError(f"unknown convention {name!r}; use one of {', '.join(CONVENTIONS)}") from None
    if reset is None:
        return conv
    if reset not in RESETS:
        raise ValueError(f"unknown reset {reset!r}; use one of {', '.join(RESETS)} (or none for the "
                         f"convention's own)")
    rule = K.RULE_RESET if reset == "v_reset" else K.RULE_SUBTRACT
    if conv.rule == K.RULE_MULTI:
        if reset == "v_reset":
            raise ValueError(f"convention {name!r} emits several spikes per step and always "
                             f"subtracts; reset 'v_reset' does not apply")
        return replace(conv, cuba_rule=rule)
    return replace(conv, rule=rule, cuba_rule=rule)
