"""Training-time augmentation of event frames (N, T, C, H, W): each sample moved in space
and time and thinned a little, afresh every time it is seen, so a network learns the digit
and not where and when its events happened to fall in 600 recordings."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    jitter_px: int = 0       # shift each sample by up to this many pixels in x and y (zero fill)
    drop: float = 0.0        # drop each event with this probability (binomial thinning of counts)
    time_jitter: int = 0     # shift each sample by up to this many steps later or earlier

    @property
    def active(self) -> bool:
        return self.jitter_px > 0 or self.drop > 0 or self.time_jitter > 0


def _shift(a: np.ndarray, d: int, axis: int) -> np.ndarray:
    """`a` moved by d along axis, zeros where nothing moved in (np.roll would wrap round)."""
    if d == 0:
        return a
    out = np.zeros_like(a)
    src = [slice(None)] * a.ndim
    dst = [slice(None)] * a.ndim
    src[axis], dst[axis] = (slice(0, -d), slice(d, None)) if d > 0 else (slice(-d, None), slice(0, d))
    out[tuple(dst)] = a[tuple(src)]
    return out


def augment_batch(x: np.ndarray, aug: Augment, gen: np.random.Generator) -> np.ndarray:
    """A new batch: every sample (T, C, H, W) shifted and thinned with draws from `gen`."""
    out = np.empty_like(x)
    for i, s in enumerate(x):
        if aug.time_jitter:
            s = _shift(s, int(gen.integers(-aug.time_jitter, aug.time_jitter + 1)), 0)
        if aug.jitter_px:
            dy, dx = gen.integers(-aug.jitter_px, aug.jitter_px + 1, 2)
            s = _shift(_shift(s, int(dy), 2), int(dx), 3)
        out[i] = s
    if aug.drop > 0:
        nz = np.nonzero(out)
        out[nz] = gen.binomial(out[nz].astype(np.int64), 1.0 - aug.drop)
    return out
