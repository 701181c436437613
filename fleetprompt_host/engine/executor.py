"""What a worker calls to run claimed items: by default the engine's runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..storage import Database
from .claims import ClaimedWork

#: Runs one claimed item; returns a short outcome label (``succeeded``, ``retry`` ...).
Executor = Callable[[Database, ClaimedWork], str | None]


class EngineExecutor:
    """The executor running items through the engine's runner; groups directives."""

    def __init__(self, registry: Any = None) -> None:
        if registry is None:
            from ..discovery import discover

            registry = discover()
        self.registry = registry

    def __call__(self, db: Database, item: ClaimedWork) -> str | None:
        """Run one claimed item (directive or delivery) on its own."""
        from .runner import deliver_signal, run_directive

        if item.kind == "directive":
            outcome = run_directive(db, self.registry, item.tenant, item.id, item.claim)
        else:
            outcome = deliver_signal(db, self.registry, item.tenant, item.id, item.claim)
        return _label(outcome)

    def run_group(
        self, db: Database, items: Sequence[ClaimedWork], keep_going: Callable[[], bool]
    ) -> list[str | Exception | None]:
        """Run a prefix of ``items`` (directives of one tenant) in one transaction."""
        from .group_runner import run_directive_group

        outcomes = run_directive_group(
            db,
            self.registry,
            items[0].tenant,
            [(item.id, item.claim) for item in items],
            keep_going=keep_going,
        )
        return [o if isinstance(o, Exception) else _label(o) for o in outcomes]


def engine_executor(registry: Any = None) -> EngineExecutor:
    """Return the executor that runs items through the engine's runner."""
    return EngineExecutor(registry)


def _label(outcome: Any) -> str | None:
    for attribute in ("status", "outcome", "value"):
        value = getattr(outcome, attribute, None)
        if isinstance(value, str):
            return value
    return outcome if isinstance(outcome, str) else None
