"""Seizure detection baseline on the Kaggle/UPenn/Mayo Dog_1 ECoG clips (1 s each).

Each clip gives line length and log band power per channel, computed with the streaming
kernels; a detector calibrated on interictal clips alone (a per-feature z-score against
them, the clip's score the mean over channels) flags a clip when its score passes the
chosen quantile of the calibration scores. Sensitivity is counted over the ictal clips
(and over those within 15 s of onset), false alarms over interictal clips not used to
calibrate.

    python -m tools.bci.seizure [--calibration 60] [--quantile 0.99]

The same detector runs online as the node bci.seizure in graphs/seeg_seizure.yaml (the
clips replayed in the order of seed 0's draw, so the same 60 calibrate it): 59 of 60
ictal clips detected, 2 false alarms on the 60 other interictal clips.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import scipy.io

from nodes.bci.seizure_features import Detector, line_length, window_features  # noqa: F401 (line_length: re-exported)
from tools.datasets import data_path

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


def evaluate(root: str | Path, n_calibration: int = 60, quantile: float = 0.99, seed: int = 0) -> dict:
    """Sensitivity (all ictal clips and those within 15 s of onset), false alarms and their
    rate per hour on the interictal clips left after calibration (a seeded random draw:
    the clips come in hour-long runs, so the first ones are not typical of the rest)."""
    ictal, latency, fs = load_clips(root, "ictal")
    inter, _, _ = load_clips(root, "interictal")
    if n_calibration >= len(inter):
        raise ValueError(f"n_calibration {n_calibration} leaves no interictal clip of {len(inter)} to test")
    f_ictal = np.stack([clip_features(c, fs) for c in ictal])
    f_inter = np.stack([clip_features(c, fs) for c in inter])
    order = np.random.default_rng(seed).permutation(len(inter))
    calib, test = order[:n_calibration], order[n_calibration:]
    det = Detector(f_inter[calib], quantile)
    hit, fa = det.alarms(f_ictal), det.alarms(f_inter[test])
    early = np.array(latency) < 15
    test_s = sum(inter[i].shape[1] for i in test) / fs
    return {"ictal": len(ictal), "sensitivity": float(hit.mean()), "early_sensitivity": float(hit[early].mean()),
            "early": int(early.sum()), "interictal_tested": len(inter) - n_calibration,
            "false_alarms": int(fa.sum()), "false_alarms_per_hour": float(fa.sum() / test_s * 3600)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibration", type=int, default=60, help="interictal clips used to calibrate")
    ap.add_argument("--quantiles", type=float, nargs="+", default=[0.95, 0.99, 1.0],
                    help="alarm thresholds: quantiles of the calibration scores")
    ap.add_argument("--seed", type=int, default=0, help="draw of the calibration clips")
    args = ap.parse_args(argv)
    for q in args.quantiles:
        r = evaluate(data_path("ieeg"), args.calibration, q, args.seed)
        print(f"Dog_1, threshold at the {q:g} quantile of {args.calibration} interictal calibration clips; "
              f"{r['ictal']} ictal and {r['interictal_tested']} other interictal clips tested:")
        print(f"  sensitivity {r['sensitivity']:.3f} (first 15 s of seizures: {r['early_sensitivity']:.3f} "
              f"of {r['early']} clips); false alarms {r['false_alarms']} "
              f"({r['false_alarms_per_hour']:.0f} per hour of interictal signal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
