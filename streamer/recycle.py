"""Arrays handed out again once nothing else holds them.

A stream produces arrays of the same size chunk after chunk; asking the allocator for new
ones costs a page fault per 4 KiB on first touch (the kernel zeroes every page), which
for a fast kernel costs more than the kernel. A `Recycler` keeps the last few arrays it
handed out and gives one back out when its reference count says that no view of it,
memoryview or message is left (the check NumPy's `resize(refcheck=True)` makes):
whatever a consumer keeps is never written again."""
from __future__ import annotations

import sys
import threading

import numpy as np


class Recycler:
    """`get(n, dtype)`: an array of at least n items (contents undefined), reused when free."""

    def __init__(self, keep: int = 3, keep_bytes: int = 0) -> None:
        """Keep the last `keep` arrays handed out, or as many as fit in `keep_bytes`
        (at most 16) when that allows more."""
        self.keep = keep
        self.keep_bytes = keep_bytes
        self.arrays: list[np.ndarray] = []
        self.lock = threading.Lock()  # readers decode the halves of a block in two threads

    def get(self, n: int, dtype: np.dtype | type, zeroed: bool = False) -> np.ndarray:
        """An array of n items: the start of a free kept one of that dtype with room for n
        (and not over twice that), else a new one, sized up to a power of two so that
        chunks of varying sizes find it again. `zeroed`: all zero (a reused one is cleared)."""
        dtype = np.dtype(dtype)
        with self.lock:
            return self._get(n, dtype, zeroed)

    def _get(self, n: int, dtype: np.dtype, zeroed: bool) -> np.ndarray:
        for i in range(len(self.arrays) - 1, -1, -1):  # the most recently used first: cached
            # two references: the list's and getrefcount's argument; any view is a third
            a = self.arrays[i]
            if n <= len(a) <= 2 * n and a.dtype == dtype and sys.getrefcount(self.arrays[i]) == 3:
                self.arrays.append(self.arrays.pop(i))  # most recently used last
                if zeroed:
                    a[:n].fill(0)
                return a[:n] if len(a) > n else a
            del a
        size = 1 << max(0, n - 1).bit_length()
        a = np.zeros(size, dtype) if zeroed else np.empty(size, dtype)
        self.arrays.append(a)
        if len(self.arrays) > max(self.keep, min(16, self.keep_bytes // max(1, a.nbytes))):
            # left to whatever still holds it
            del self.arrays[0]
        return a[:n] if size > n else a
