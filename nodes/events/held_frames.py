"""The bins a binning node holds (complete ones not yet sent and the partial one), kept in
slabs of frames that are reused once no sent message views them any more.

Sent frames are views of a slab, never copies. A slab whose frames are all sent waits in
a short spare list; when no view of it is left (its reference count says so, as NumPy's
own `resize(refcheck=True)` does), it is cleared and filled again. Reused memory is
already mapped and cached: a fresh array of frames costs page faults on first touch,
which at 1 ms bins cost more than counting the events."""
from __future__ import annotations

import sys

import numpy as np

# Spare slabs kept for reuse (each at most a few chunks of frames).
SPARES = 3
# Smallest slab (bytes): small frames are grouped so that a slab serves many chunks.
MIN_SLAB_BYTES = 1 << 22


class HeldFrames:
    """`frames`: the held bins (n, C, H, W), zero where no event was counted yet.

    A kernel that fills new bins can clear them itself as it reaches them (in cache, just
    before counting into them): grow(..., clear=False), then `unsettled()` says which
    bins may still hold old counts and settle() takes back how far the kernel cleared."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)
        self.frame_bytes = 4 * int(np.prod(self.shape))
        self.slab = np.zeros((0,) + self.shape, np.float32)
        self.dirty = 0  # slab bins [0, dirty) may hold old counts; the rest are zero
        self.first = 0  # slab index of the first held bin
        self.n = 0
        self.clean = 0  # held bins before this slab index are cleared
        self.spares: list[np.ndarray] = []
        self.spares_dirty: list[int] = []

    def __len__(self) -> int:
        return self.n

    @property
    def frames(self) -> np.ndarray:
        self.settle()
        return self.slab[self.first:self.first + self.n]

    def grow(self, n_bins: int, clear: bool = True) -> None:
        """Hold at least n_bins bins; the new ones are zero, or with clear=False, left
        for the caller to clear (see unsettled)."""
        if n_bins <= self.n:
            return
        if self.first + n_bins > len(self.slab):
            self._move(n_bins)
        self.n = n_bins
        if clear:
            self.settle()

    def unsettled(self) -> tuple[np.ndarray, int, int]:
        """(held bins, first not cleared, first known zero): bins from the second index
        to the third may hold old counts, counted from the first held bin."""
        end = self.first + self.n
        return (self.slab[self.first:end], self.clean - self.first,
                max(self.clean, min(self.dirty, end)) - self.first)

    def settle(self, cleared: int = 0) -> None:
        """The first `cleared` held bins were cleared by the caller; clear the rest."""
        end = self.first + self.n
        self.clean = max(self.clean, self.first + cleared)
        if self.clean < min(self.dirty, end):
            self.slab[self.clean:min(self.dirty, end)] = 0
        self.clean = end
        self.dirty = max(self.dirty, end)

    def take(self, n: int) -> np.ndarray:
        """The first n held bins, no longer held: the caller sends them (a view)."""
        self.settle()
        out = self.slab[self.first:self.first + n]
        self.first += n
        self.n -= n
        return out

    def _move(self, n_bins: int) -> None:
        """Into a slab with room for n_bins from its start: a free spare or a new one."""
        self.settle()
        old, old_dirty = self.slab, self.dirty
        slab, dirty = self._free_slab(n_bins)
        if self.n:
            slab[:self.n] = old[self.first:self.first + self.n]
        self.slab, self.dirty, self.first, self.clean = slab, max(dirty, self.n), 0, self.n
        if len(old):
            self.spares.append(old)
            self.spares_dirty.append(old_dirty)
            if len(self.spares) > SPARES:  # left to the views still holding it
                del self.spares[0], self.spares_dirty[0]

    def _free_slab(self, n_bins: int) -> tuple[np.ndarray, int]:
        for i in range(len(self.spares)):
            # two references: the list's and getrefcount's argument; a sent view is a third
            if len(self.spares[i]) >= n_bins and sys.getrefcount(self.spares[i]) == 2:
                return self.spares.pop(i), self.spares_dirty.pop(i)
        cap = max(n_bins + n_bins // 4 + 1, MIN_SLAB_BYTES // self.frame_bytes)
        return np.zeros((cap,) + self.shape, np.float32), 0
