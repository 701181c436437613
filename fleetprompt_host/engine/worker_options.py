"""How a worker runs (its options, its batch sizes) and what it did (its statistics)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: A full batch done within this many seconds doubles the tenant's next batch; a slower
#: turn halves it (down to ``batch_size``).
FAST_TURN_SECONDS = 0.5
#: How long a group of directives keeps taking claimed ones before it commits.
GROUP_WINDOW_SECONDS = 0.05


@dataclass
class WorkerOptions:
    """How a worker runs (see the ``fleetprompt worker`` options)."""

    tenants: tuple[str, ...] | None = None
    concurrency: int = 1
    until_idle: bool = False
    lease_seconds: float = 30.0
    batch_size: int = 10
    #: The largest batch a tenant whose turns finish quickly grows to.
    max_batch: int = 100
    #: Safety-net poll interval; None: 0.2 s on SQLite, 5 s on PostgreSQL (which notifies).
    poll_seconds: float | None = None
    idle_horizon_seconds: float = 60.0
    shutdown_grace_seconds: float = 30.0
    #: How long one transaction keeps taking claimed directives (group commit, see
    #: :mod:`.group_runner`); 0 runs every directive in a transaction of its own.
    group_seconds: float = GROUP_WINDOW_SECONDS
    name: str | None = None


@dataclass
class WorkerStats:
    """What a worker did: outcome counts per kind, e.g. ``{("directive", "succeeded"): 3}``."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    released: int = 0
    idle_exit: bool = False

    def total(self) -> int:
        """Return how many items were run."""
        return sum(self.outcomes.values())


class BatchSizes:
    """How many items to claim at each tenant: a turn is bounded by time, not by count.

    A full batch done within :data:`FAST_TURN_SECONDS` (short work) doubles the tenant's
    next batch, up to ``maximum``; a slower turn halves it, down to ``default``. Short work
    is claimed in bulk, slow work a few items at a time, so no worker hoards items that
    another could be running.
    """

    def __init__(self, default: int, maximum: int) -> None:
        self.default, self.maximum = default, max(default, maximum)
        self._sizes: dict[str, int] = {}  # only tenants away from the default

    def get(self, tenant: str) -> int:
        """The batch size for ``tenant``'s next turn."""
        return self._sizes.get(tenant, self.default)

    def record(self, tenant: str, limit: int, claimed: int, seconds: float) -> None:
        """Learn from a turn that claimed ``claimed`` of ``limit`` items in ``seconds``."""
        if seconds >= FAST_TURN_SECONDS:
            smaller = max(self.default, limit // 2)
            if smaller == self.default:
                self._sizes.pop(tenant, None)
            else:
                self._sizes[tenant] = smaller
        elif claimed == limit and limit < self.maximum:
            self._sizes[tenant] = min(self.maximum, limit * 2)
