"""Calibrate Dynamic Confidence (readout, temperature, threshold) on labelled samples.

    python -m tools.calibrate --model M.nir --data DIR_OR_NPZ --ids 1-500 [--score-ids 501-1000]

Each sample runs once for the full window; the readout after every step is cached, and
the early-exit rule is replayed on those traces for every readout (spike counts, membrane,
the running mean of either), temperature and threshold. The chosen setting is the one with
the fewest mean steps whose accuracy stays within a budget (default 1 point) of the full
window's (output spikes counted over every step) on the calibration samples; with
`--margin-se Z` each setting's accuracy lost counts Z standard errors of the paired
difference more (sqrt of the samples on which it and the full window disagree, over the
samples), so that the choice holds on samples it was not calibrated on.
"""
from __future__ import annotations

from .sweep import Row, choose, full_window_accuracy, outcome, pareto, sweep
from .traces import Dataset, nmnist_frames, parse_ids, readout_traces

__all__ = ["Dataset", "Row", "choose", "full_window_accuracy", "nmnist_frames", "outcome",
           "pareto", "parse_ids", "readout_traces", "sweep"]
