"""Replay: deliver stored signals to handlers again.

:func:`replay_signals` selects signals (:class:`SignalFilter`), finds the handlers that
subscribe to each one *now* (installed, enabled packages; optionally one handler or one
package) and inserts new deliveries marked ``replay`` in ``seq`` order, which workers run
like any other delivery. Handlers see the same ``ctx.idempotency_key`` as on the first
delivery, so they can recognise a repeat. The replay itself is recorded as an execution
(kind ``replay``) with its filters and counts. A dry run writes nothing and returns the
plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database, require_role
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DeliveryRow
from fleetprompt_host.storage.roles import as_actor
from fleetprompt_sdk.enums import Role
from fleetprompt_sdk.errors import NotFoundError, UsageError
from fleetprompt_sdk.models import Actor

from .executions import ExecutionLog
from .installed import active_packages
from .queries import SignalFilter, iter_signals
from .subscriptions import loaded, split_handler_id, subscribers
from .wakeups import work_created

CHUNK = 1000


@dataclass(frozen=True)
class ReplayItem:
    """One delivery a replay creates (or would create)."""

    signal_id: str
    seq: int
    type: str
    handler: str

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "signal_id": self.signal_id,
            "seq": self.seq,
            "type": self.type,
            "handler": self.handler,
        }


@dataclass
class ReplayPlan:
    """The deliveries of a replay, in ``seq`` order."""

    items: list[ReplayItem] = field(default_factory=list)
    dry_run: bool = False
    execution_id: str | None = None

    @property
    def signals(self) -> int:
        """How many distinct signals are replayed."""
        return len({i.signal_id for i in self.items})


def _known_handlers(registry: PackageRegistry, active: frozenset[str]) -> set[str]:
    return {
        f"{p.name}:{s.handler}"
        for p in loaded(registry, active)
        for s in p.manifest.signals.subscribes
    }


def replay_signals(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    flt: SignalFilter,
    *,
    actor: Actor | str,
    handler: str | None = None,
    dry_run: bool = False,
    allow_all: bool = False,
) -> ReplayPlan:
    """Create replay deliveries for the signals ``flt`` selects (see module doc).

    Needs the admin role. ``handler`` is ``package:handler`` or a package name (all its
    handlers). An empty filter is refused (``replay-needs-selector``) unless ``allow_all``.
    """
    who = as_actor(actor)
    if flt.empty and not allow_all:
        raise UsageError(
            "replay needs a selector (--id, --type, --since, --until, --subject, "
            "--correlation) or --all",
            code="replay-needs-selector",
        )
    plan = ReplayPlan(dry_run=dry_run)
    with db.tenant_session(tenant, readonly=dry_run) as session:
        require_role(session, who, Role.ADMIN)
        active = active_packages(session)
        wanted: set[str] = set()
        if handler is not None:
            known = _known_handlers(registry, active)
            package, name = split_handler_id(handler)
            wanted = {handler} if package else {h for h in known if h.startswith(f"{name}:")}
            if not wanted & known:
                raise NotFoundError(
                    f"no installed package subscribes a handler {handler!r}",
                    code="handler-not-found",
                )
        for row in iter_signals(session, flt):
            for target in subscribers(registry, active, row.type):
                if handler is None or target in wanted:
                    plan.items.append(ReplayItem(row.id, row.seq, row.type, target))
        if dry_run or not plan.items:
            return plan
        now = utcnow()
        for start in range(0, len(plan.items), CHUNK):
            session.execute(
                insert(DeliveryRow),
                [
                    {
                        "signal_id": item.signal_id,
                        "signal_seq": item.seq,
                        "handler": item.handler,
                        "replay": True,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for item in plan.items[start : start + CHUNK]
                ],
            )
        work_created(session, tenant, "delivery", now)
        log = ExecutionLog(
            "replay",
            actor=str(who),
            summary={
                "filter": {
                    "type": flt.type_pattern,
                    "subject": str(flt.subject) if flt.subject else None,
                    "correlation_id": flt.correlation_id,
                    "ids": list(flt.ids),
                    "since": flt.since.isoformat() if flt.since else None,
                    "until": flt.until.isoformat() if flt.until else None,
                    "handler": handler,
                },
                "signals": plan.signals,
                "deliveries": len(plan.items),
                "first_seq": plan.items[0].seq,
                "last_seq": plan.items[-1].seq,
            },
        )
        log.correlation_id = log.id
        plan.execution_id = log.write(session, "succeeded", outcome="replayed")
    return plan
