"""Retry policy: exponential backoff for directives and signal deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """How failed attempts are retried.

    After attempt ``n`` fails the next one is due ``base_seconds * factor ** (n - 1)``
    seconds later, at most ``cap_seconds``. Deliveries are retried up to
    ``delivery_max_attempts`` times and then marked dead; directives carry their own
    ``max_attempts``.

    Attempts are counted when a worker claims the work, so a claim whose worker was killed
    before it reported counts too. Up to ``lost_attempts`` such claims beyond the maximum
    are tolerated (a batch claimed by a worker that dies is not the work's fault); past
    that the work fails as ``attempts-exhausted`` without running again, which bounds a
    handler that keeps killing its worker.
    """

    base_seconds: float = 2.0
    factor: float = 2.0
    cap_seconds: float = 3600.0
    delivery_max_attempts: int = 10
    lost_attempts: int = 20

    def exhausted(self, attempts: int, max_attempts: int) -> bool:
        """True when a claim is past every attempt and every tolerated lost claim."""
        return attempts > max_attempts + self.lost_attempts

    def delay(self, attempt: int) -> timedelta:
        """Return the wait after failed attempt number ``attempt`` (1-based)."""
        seconds = self.base_seconds * self.factor ** max(0, attempt - 1)
        return timedelta(seconds=min(self.cap_seconds, seconds))

    def next_at(self, now: datetime, attempt: int) -> datetime:
        """Return when the attempt after ``attempt`` is due."""
        return now + self.delay(attempt)


DEFAULT_POLICY = RetryPolicy()
