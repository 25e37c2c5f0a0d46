"""Events off the sensor (corrupt words, a wrong size in the header) are removed after a
block is decoded rather than tested in the decoding loops: there a test on x and y
would put the address of the next store behind the decoded data, which costs a third of
the decoding speed, while off-sensor events are rare."""
from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def drop_off_sensor(ev, n, width, height):
    """Keep ev[:n] with x < width and y < height, in order; returns (kept, removed)."""
    k = 0
    for i in range(n):
        e = ev[i]
        if e.x < width and e.y < height:
            if k != i:
                ev[k] = e
            k += 1
    return k, n - k
