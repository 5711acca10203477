"""A circuit breaker per dependency of the status monitor.

A dependency that failed `failures` checks in a row is not called for `cooldown_s`: a
dead service costs nothing to report, and a hung one does not hold a check open every
interval. After the cooldown one trial call is let through (half-open); its outcome
closes the circuit or opens it for another cooldown.

    CLOSED --failures in a row--> OPEN --cooldown over--> HALF_OPEN --success--> CLOSED
                                    ^                          |
                                    +--------failure-----------+
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(self, failures: int, cooldown_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = max(1, failures)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failed = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return self._state

    def retry_in_s(self) -> float:
        """Seconds until the next trial call (0 when calls go through)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May the dependency be called now? In half-open only one trial at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._trial_running:
            return False
        self._state = BreakerState.HALF_OPEN
        self._trial_running = True
        return True

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failed = 0
        self._trial_running = False

    def record_failure(self) -> None:
        self._trial_running = False
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._failed += 1
        if self._failed >= self.failures:
            self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._failed = 0
