"""The signal kernels as plain functions on (channels, samples) arrays, for offline use
(MNE's style: one verb per idea): the keyword parameters named and in the units of the
node's, a new array returned and the input left unchanged. Each node is a thin shell over
the same function, or over its state object (`*State`, called chunk after chunk) for the
kernels that carry state across chunks.

    from nodes.signal.functional import filter_data, bandpower
    y = filter_data(x, sfreq=160.0, kind="bandpass", l_freq_hz=8.0, h_freq_hz=30.0)
    power = bandpower(y, sfreq=160.0, bands={"mu": (8, 13)}, window_ms=1000, step_ms=250)
"""
from .artifacts import KINDS, ArtifactState, artifacts
from .bandpower import BandPowerState, bandpower
from .channels import pick, reref
from .encode import EncodeState, encode
from .filter import FilterState, filter_data
from .project import project
from .resample import ResampleState, resample
from .windows import epochs, windows

__all__ = ["ArtifactState", "artifacts", "bandpower", "BandPowerState", "encode", "EncodeState", "epochs",
           "filter_data", "FilterState", "KINDS", "pick", "project", "resample", "ResampleState", "reref", "windows"]
