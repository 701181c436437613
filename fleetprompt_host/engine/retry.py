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
    """

    base_seconds: float = 2.0
    factor: float = 2.0
    cap_seconds: float = 3600.0
    delivery_max_attempts: int = 5

    def delay(self, attempt: int) -> timedelta:
        """Return the wait after failed attempt number ``attempt`` (1-based)."""
        seconds = self.base_seconds * self.factor ** max(0, attempt - 1)
        return timedelta(seconds=min(self.cap_seconds, seconds))

    def next_at(self, now: datetime, attempt: int) -> datetime:
        """Return when the attempt after ``attempt`` is due."""
        return now + self.delay(attempt)


DEFAULT_POLICY = RetryPolicy()
