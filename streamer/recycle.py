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

    def __init__(self, keep: int = 3) -> None:
        self.keep = keep
        self.arrays: list[np.ndarray] = []
        self.lock = threading.Lock()  # readers decode the halves of a block in two threads

    def get(self, n: int, dtype: np.dtype | type, zeroed: bool = False) -> np.ndarray:
        """An array of n items: a free kept one of that size and dtype, else a new one.
        `zeroed`: all zero (a reused one is cleared)."""
        dtype = np.dtype(dtype)
        with self.lock:
            return self._get(n, dtype, zeroed)

    def _get(self, n: int, dtype: np.dtype, zeroed: bool) -> np.ndarray:
        for i in range(len(self.arrays) - 1, -1, -1):  # the most recently used first: cached
            # two references: the list's and getrefcount's argument; any view is a third
            a = self.arrays[i]
            if len(a) == n and a.dtype == dtype and sys.getrefcount(self.arrays[i]) == 3:
                self.arrays.append(self.arrays.pop(i))  # most recently used last
                if zeroed:
                    a.fill(0)
                return a
            del a
        a = np.zeros(n, dtype) if zeroed else np.empty(n, dtype)
        self.arrays.append(a)
        if len(self.arrays) > self.keep:  # left to whatever still holds it
            del self.arrays[0]
        return a
