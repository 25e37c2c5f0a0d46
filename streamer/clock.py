"""Pacing for sources that replay recorded time (real time, `speed: N`, or as fast as possible)."""
from __future__ import annotations

import time


class Pacer:
    """Maps a device clock (seconds) onto the host monotonic clock at a given speed.

    `wait(t)` returns True once device time `t` is due; it blocks at most `max_block_s`
    so that the caller stays responsive, sleeping coarsely and spinning the last
    fraction of a millisecond for sub-millisecond accuracy. speed <= 0 or inf: no pacing.
    """

    SPIN_S = 0.0015
    MAX_SPIN_S = 0.006

    def __init__(self, speed: float = 1.0, max_block_s: float = 0.05) -> None:
        self.speed = speed
        self.max_block_s = max_block_s
        self._host0: float | None = None
        self._dev0 = 0.0
        self.margin = self.SPIN_S

    @property
    def unpaced(self) -> bool:
        return not (0 < self.speed < float("inf"))

    def reset(self) -> None:
        self._host0 = None

    def due_at(self, t_device: float) -> float:
        """Host monotonic time at which device time `t_device` is due."""
        if self._host0 is None:
            self._host0, self._dev0 = time.monotonic(), t_device
        return self._host0 + (t_device - self._dev0) / self.speed

    def wait(self, t_device: float) -> bool:
        if self.unpaced:
            return True
        due = self.due_at(t_device)
        deadline = time.monotonic() + self.max_block_s
        while True:
            now = time.monotonic()
            left = due - now
            if left <= 0:
                return True
            if now >= deadline:
                return False
            if left > self.margin:
                target = min(due - self.margin, deadline)
                time.sleep(target - now)
                # A loaded machine wakes sleepers late: spin for longer before due times
                # when it does (at most MAX_SPIN_S), and less again when it stops.
                late = time.monotonic() - target
                self.margin = min(self.MAX_SPIN_S, max(self.SPIN_S, 0.95 * self.margin, 2.0 * late))
