"""Simulated time for the conference population.

Conferences live in simulated time so that a test can jump an hour ahead in a millisecond
(``advance``), freeze time (``time_scale`` 0) or run a demo at 60x. Session timing (Guid
rotation, idle sign-out) deliberately stays on the real monotonic clock: that is what a
client's own timers race against.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    """Simulated seconds = base + elapsed wall seconds x ``time_scale`` + explicit advances."""

    def __init__(
        self,
        time_scale: float = 1.0,
        *,
        epoch: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        #: simulated second 0 as epoch milliseconds (the wall clock at construction by default)
        self.epoch_ms = round((time.time() if epoch is None else epoch) * 1000)
        self._base_mono = monotonic()
        self._base_s = 0.0
        self._scale = time_scale

    @property
    def time_scale(self) -> float:
        return self._scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        # Rebase so that the change does not make simulated time jump.
        self._base_s = self.seconds()
        self._base_mono = self._monotonic()
        self._scale = value

    def seconds(self) -> float:
        """Simulated seconds since the epoch of this clock."""
        return self._base_s + (self._monotonic() - self._base_mono) * self._scale

    def now_ms(self) -> int:
        """Simulated now, epoch milliseconds (what the gateway writes in ``startTime``)."""
        return self.epoch_ms + int(self.seconds() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._base_s += seconds
