"""streamer.recycle: arrays are handed out again only once nothing else holds them."""
from __future__ import annotations

import numpy as np

from streamer.recycle import Recycler


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_an_array_is_reused_only_when_no_view_or_memoryview_holds_it():
    pool = Recycler(keep=3)
    a = pool.get(1000, np.int64)
    first = _address(a)
    view = a[10:20]
    del a
    other = pool.get(1000, np.int64)
    assert _address(other) != first  # a view still holds it
    mv = memoryview(view)
    del view
    another = pool.get(1000, np.int64)
    assert _address(another) != first  # a memoryview of the view does too
    del mv
    b = pool.get(1000, np.int64)
    assert _address(b) == first
    b[:] = 7
    del b
    c = pool.get(1000, np.int64, zeroed=True)
    assert _address(c) == first and not c.any()


def test_other_sizes_and_dtypes_are_not_mixed_up_and_few_are_kept():
    pool = Recycler(keep=2)
    a = pool.get(100, np.float32)
    addr = _address(a)
    del a
    assert pool.get(100, np.float64).dtype == np.float64
    assert len(pool.get(50, np.float32)) == 50
    assert len(pool.arrays) == 2  # the first was let go: at most `keep` are kept
    assert all(_address(x) != addr for x in pool.arrays)
