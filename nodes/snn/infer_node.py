"""snn.infer: run a NIR spiking network on binned frames with the Numba engine and emit decisions."""
from __future__ import annotations

import numpy as np

from .classifier import ClassifierNode
from .network import Network, load


class NumbaBackend:
    """The network stepped in this process by the Numba kernels, one bin per call, so
    each bin's output is known before the next bin runs."""

    label = "numba"
    depth = 0
    block = 1
    aligned = True
    max_count = None

    def __init__(self, net: Network) -> None:
        self.net = net
        self.in_shape = tuple(net.in_shape)
        self.n_out = int(np.prod(net.out_shape))
        self.out_layer = net.names[net._out]
        self.readout_layer = net.readout_layer
        self.details: dict = {}
        # Compile (or load from the cache) every kernel now, not on the first live bin:
        # empty input takes the event-driven path, full input the dense one; frames off the
        # wire are read-only, which Numba compiles apart from writable ones.
        for fill in (0.0, 1.0):
            for writable in (True, False):
                x = np.full(self.in_shape, fill, np.float32)
                x.setflags(write=writable)
                net.reset()
                net.step(x)
        net.reset()

    def advance(self, frames: np.ndarray) -> np.ndarray:
        return self.net.step(frames)

    def reset(self) -> None:
        self.net.reset()

    def close(self) -> None:
        pass


class Infer(ClassifierNode):
    """Classifies frames with a NIR spiking network, one step per bin, in this process.

    Each bin of the incoming Frames (bins, *input_shape), or each step of incoming Spikes
    (steps, n) with n = the input size, advances the network by `dt_s`.
    In `continuous` mode a decision is emitted whenever the early-exit policy stops (or
    `max_steps` is reached) and the network is reset for the next one; a Marker restarts
    the current sample. In `trial` mode nothing runs until a Marker starts a trial; the
    trial ends with its decision and the node waits for the next Marker. A Marker with a
    device `time` starts its trial at the first bin at or after that time, whatever order
    markers and frames arrive in (bins that came first are kept for it). The decision
    keeps the t_origin of the Frames message whose bin completed it. With
    `trigger: activity`, a trial also starts at the first bin whose input sum reaches
    `onset_events` (for streams without markers). With `trial_markers`, only markers
    with those labels start trials (EEG task cues, not rest cues); with `delay_s`, a trial
    starts that long after its marker (past a cue's evoked response). With
    `emit_spikes`, the output layer's spikes of every simulated step leave on `out`.
    The same parameters run the network on Loihi (coprocessor.loihi) or SpiNNaker
    (coprocessor.spinnaker).
    Counters: decisions, idle_bins (trial mode, bins outside a trial), trials_cut
    (a Marker arrived before the previous trial decided), bin_mismatch (bin_us ≠ dt_s),
    ignored_markers (labels not in trial_markers).
    """

    TYPE = "snn.infer"

    def make_backend(self) -> NumbaBackend:
        p = self.params
        return NumbaBackend(load(p.model, dt=p.dt_s, convention=p.convention, reset=p.reset))
