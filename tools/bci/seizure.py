"""Seizure detection on the Kaggle/UPenn/Mayo Dog_1 ECoG clips (1 s each), judged the
way the field does it: chronologically. The clips are numbered in recording order; the
earlier ones calibrate the detector, the later ones test it.

- calibration: interictal clips 1-60 and the first seizure's ictal clips (1-31). The
  detector of bci.seizure (log line length and band powers per channel against a running
  baseline of the last 30 windows judged normal) runs over them in order; the threshold
  is the middle of the range of thresholds with the best balanced accuracy there.
- test: interictal clips 61-120, then the later seizures' ictal clips (32-60), replayed
  as a new recording: a fresh detector fills its baseline with the first 30 interictal
  clips and judges the rest with the calibrated threshold. Figures: AUC, sensitivity,
  specificity, alarms on interictal signal per hour (one alarm per 30 s refractory
  period), detection latency from each seizure's onset; and the same with the test
  clips' amplitude scaled by 0.5 and by 2.

    python -m tools.bci.seizure [--calibration-interictal 60] [--calibration-seizures 1]

It also judges the later clips as the continuation of the calibration recording (the
baseline carried over), and, for comparison, with the detector that keeps its first
baseline for ever (no drift compensation), on the later clips as they are and scaled by 2.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from nodes.bci.seizure_features import RunningBaseline, SeizureRule, line_length, window_features  # noqa: F401 (re-exported)
from tools.bci.metrics import (detection_latencies, false_alarms_per_hour, roc_auc, seizure_onsets,
                               sensitivity_specificity)
from tools.datasets import data_path

BASELINE_WINDOWS = 30
REFRACTORY_S = 30.0


def load_clips(root: str | Path, kind: str) -> tuple[list[np.ndarray], list[float], float]:
    """The `kind` ('ictal' or 'interictal') clips of Dog_1 in their numbered order, their
    latencies (s after onset; NaN for interictal) and the sampling rate."""
    files = sorted(Path(root).glob(f"Dog_1_{kind}_segment_*.mat"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    if not files:
        raise FileNotFoundError(f"no Dog_1_{kind}_segment_N.mat under {root} (set STREAMER_DATA)")
    clips, lat, fs = [], [], None
    for f in files:
        m = scipy.io.loadmat(f)
        if "data" not in m or "freq" not in m:
            raise ValueError(f"{f}: expected fields data and freq (a Kaggle seizure-detection clip)")
        clips.append(m["data"].astype(np.float32))
        lat.append(float(m["latency"].ravel()[0]) if "latency" in m else np.nan)
        fs = float(np.ravel(m["freq"])[0])
    return clips, lat, fs


def clip_features(x: np.ndarray, fs: float, segment_s: float = 0.5) -> np.ndarray:
    """(channels, 1 + bands): log line length and log band powers of one clip."""
    return window_features(x, fs, segment_s)


@dataclass
class Recording:
    """Clips replayed as one recording: interictal first, then ictal, each in order."""
    features: np.ndarray  # (clips, channels, features)
    ictal: np.ndarray  # bool per clip
    latency: np.ndarray  # s after onset (NaN for interictal)
    seconds: np.ndarray  # clip durations

    @classmethod
    def of(cls, inter: list[np.ndarray], ictal: list[np.ndarray], latency: list[float], fs: float,
           scale: float = 1.0) -> "Recording":
        clips = list(inter) + list(ictal)
        return cls(np.stack([clip_features(c * np.float32(scale), fs) for c in clips]),
                   np.r_[np.zeros(len(inter), bool), np.ones(len(ictal), bool)],
                   np.r_[np.full(len(inter), np.nan), latency], np.array([c.shape[1] / fs for c in clips]))


class FixedBaseline(RunningBaseline):
    """The first baseline kept for ever: the detector without drift compensation."""

    def add(self, features: np.ndarray) -> None:
        if not self.ready:
            super().add(features)

    def reset(self, windows: list[np.ndarray]) -> None:
        pass


def replay(rec: Recording, threshold: float | None, running: bool = True, first: np.ndarray | None = None,
           baseline_windows: int = BASELINE_WINDOWS, refractory_s: float = REFRACTORY_S) -> dict:
    """bci.seizure's rule over a recording: scores, seizure and alarm per judged clip. The
    first baseline is `first` (features of earlier windows) or else the recording's first
    `baseline_windows` clips, which are then not judged. `running` False keeps the first
    baseline for ever (the detector without drift compensation)."""
    rule = SeizureRule(baseline_windows, threshold, 1.0, refractory_s)
    if not running:
        rule.baseline = FixedBaseline(baseline_windows)
    skip = 0 if first is not None else baseline_windows
    for f in (first if first is not None else rec.features[:baseline_windows])[-baseline_windows:]:
        rule.calibrate(f)
    starts = np.r_[0.0, np.cumsum(rec.seconds)[:-1]]
    out = [rule.judge(f, t) for f, t in zip(rec.features[skip:], starts[skip:])]
    return {"score": np.array([j.score for j in out]), "seizure": np.array([j.seizure for j in out]),
            "alarm": np.array([j.alarm for j in out]), "ictal": rec.ictal[skip:],
            "latency": rec.latency[skip:], "seconds": rec.seconds[skip:], "threshold": rule.threshold}


def choose_threshold(rec: Recording, running: bool = True, grid: np.ndarray | None = None) -> float:
    """The middle of the thresholds whose balanced accuracy (mean of sensitivity and
    specificity) on the calibration recording is best: the widest margin on both sides."""
    grid = np.round(np.arange(0.0, 1.5, 0.005), 3) if grid is None else grid
    acc = []
    for t in grid:
        r = replay(rec, float(t), running)
        acc.append(np.mean(sensitivity_specificity(r["seizure"], r["ictal"])))
    best = grid[np.asarray(acc) >= max(acc) - 1e-12]
    return float((best.min() + best.max()) / 2)


def figures(r: dict) -> dict:
    """Clip-wise and alarm figures of a replay."""
    ictal = r["ictal"]
    sens, spec = sensitivity_specificity(r["seizure"], ictal)
    lat = detection_latencies(r["seizure"][ictal], r["latency"][ictal])
    false_alarms = int(r["alarm"][~ictal].sum())
    return {"auc": roc_auc(r["score"], ictal), "sensitivity": sens, "specificity": spec,
            "ictal": int(ictal.sum()), "interictal": int((~ictal).sum()),
            "detected": int(r["seizure"][ictal].sum()), "false_windows": int(r["seizure"][~ictal].sum()),
            "early_sensitivity": float(r["seizure"][ictal & (r["latency"] < 15)].mean()),
            "false_alarms": false_alarms,
            "false_alarms_per_hour": false_alarms_per_hour(false_alarms, float(r["seconds"][~ictal].sum())),
            "seizures": len(lat), "seizures_detected": int(np.isfinite(lat).sum()),
            "latency_s": [float(v) for v in lat], "threshold": r["threshold"]}


def chronological(root: str | Path, calibration_interictal: int = 60, calibration_seizures: int = 1,
                  scales: tuple[float, ...] = (1.0, 0.5, 2.0)) -> dict:
    """Calibrate on the earlier clips, test on the later ones. Returns the threshold and
    figures: 'calibration'; 'continued' (the later clips judged as the recording goes on:
    the baseline comes from the end of the calibration clips); per scale, the later clips
    scaled by it as a new recording (a fresh baseline from their first clips); 'fixed'
    and 'fixed x2': the detector that keeps its first calibration baseline for ever, on
    the later clips and on them scaled by 2."""
    ictal, latency, fs = load_clips(root, "ictal")
    inter, _, _ = load_clips(root, "interictal")
    seizure = seizure_onsets(np.array(latency))
    n_ictal = int((seizure < calibration_seizures).sum())
    if not BASELINE_WINDOWS < calibration_interictal < len(inter) - BASELINE_WINDOWS or n_ictal in (0, len(ictal)):
        raise ValueError(f"a split of {calibration_interictal} interictal clips and {calibration_seizures} "
                         f"seizures leaves nothing to calibrate or to test ({len(inter)} interictal clips, "
                         f"{seizure.max() + 1} seizures)")
    calib = Recording.of(inter[:calibration_interictal], ictal[:n_ictal], latency[:n_ictal], fs)
    threshold = choose_threshold(calib)
    fixed_threshold = choose_threshold(calib, running=False)
    later = {scale: Recording.of(inter[calibration_interictal:], ictal[n_ictal:], latency[n_ictal:], fs, scale)
             for scale in {*scales, 2.0}}
    # As the recording goes on, the baseline at the end of the calibration clips: their
    # last interictal windows judged normal (the first seizure's windows stay out).
    last_normal = calib.features[:calibration_interictal]
    out = {"threshold": threshold, "calibration": figures(replay(calib, threshold)),
           "split": {"interictal": (1, calibration_interictal), "ictal": (1, n_ictal)},
           "continued": figures(replay(later[1.0], threshold, first=last_normal)),
           "fixed_threshold": fixed_threshold,
           "fixed": figures(replay(later[1.0], fixed_threshold, False, calib.features[:BASELINE_WINDOWS])),
           "fixed x2": figures(replay(later[2.0], fixed_threshold, False, calib.features[:BASELINE_WINDOWS]))}
    for scale in scales:
        out[scale] = figures(replay(later[scale], threshold))
    return out


def describe(f: dict) -> str:
    lat = ", ".join("missed" if not np.isfinite(v) else f"{v:g} s" for v in f["latency_s"])
    return (f"AUC {f['auc']:.3f}; sensitivity {f['detected']}/{f['ictal']} = {f['sensitivity']:.3f} "
            f"(first 15 s {f['early_sensitivity']:.3f}); specificity {f['interictal'] - f['false_windows']}/"
            f"{f['interictal']} = {f['specificity']:.3f}; {f['false_alarms']} false alarms "
            f"({f['false_alarms_per_hour']:.0f}/h); latency from onset: {lat}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibration-interictal", type=int, default=60, help="earlier interictal clips")
    ap.add_argument("--calibration-seizures", type=int, default=1, help="earlier seizures")
    args = ap.parse_args(argv)
    r = chronological(data_path("ieeg"), args.calibration_interictal, args.calibration_seizures)
    n_ictal = r["split"]["ictal"][1]
    print(f"running baseline of {BASELINE_WINDOWS} windows: threshold {r['threshold']:.3f}, chosen on interictal "
          f"1-{args.calibration_interictal} and ictal 1-{n_ictal}")
    print(f"  calibration clips: {describe(r['calibration'])}")
    print(f"  later clips, the recording going on: {describe(r['continued'])}")
    for scale in (1.0, 0.5, 2.0):
        print(f"  later clips x{scale:g} as a new recording: {describe(r[scale])}")
    print(f"fixed baseline (the first {BASELINE_WINDOWS} calibration windows for ever): threshold "
          f"{r['fixed_threshold']:.3f}")
    print(f"  later clips: {describe(r['fixed'])}")
    print(f"  later clips x2: {describe(r['fixed x2'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
