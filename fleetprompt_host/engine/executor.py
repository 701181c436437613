"""What a worker calls to run one claimed item: by default the engine's runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..storage import Database
from .claims import ClaimedWork

#: Runs one claimed item; returns a short outcome label (``succeeded``, ``retry`` ...).
Executor = Callable[[Database, ClaimedWork], str | None]


def engine_executor(registry: Any = None) -> Executor:
    """Return the executor that runs items through the engine's runner."""
    from .runner import deliver_signal, run_directive

    if registry is None:
        from ..discovery import discover

        registry = discover()

    def execute(db: Database, item: ClaimedWork) -> str | None:
        if item.kind == "directive":
            outcome = run_directive(db, registry, item.tenant, item.id, item.claim)
        else:
            outcome = deliver_signal(db, registry, item.tenant, item.id, item.claim)
        return _label(outcome)

    return execute


def _label(outcome: Any) -> str | None:
    for attribute in ("status", "outcome", "value"):
        value = getattr(outcome, attribute, None)
        if isinstance(value, str):
            return value
    return outcome if isinstance(outcome, str) else None
