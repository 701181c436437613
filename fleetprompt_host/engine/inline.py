"""Embedded mode: run due work in this process, through the same runner as workers.

For SQLite (one machine, one process) and for ``directives request --wait``:
:func:`run_directive_now` claims and runs one directive; :func:`run_pending_inline`
claims and runs due directives and deliveries of one tenant until none is due.
Work scheduled for later (``run_after``, retry backoff) is left for a later call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow

from .leases import (
    DEFAULT_LEASE_SECONDS,
    claim_delivery_inline,
    claim_directive_inline,
    default_owner,
    delivery_due,
    directive_due,
)
from .retry import DEFAULT_POLICY, RetryPolicy
from .runner import RunOutcome, deliver_signal, run_directive

BATCH = 100


@dataclass
class InlineReport:
    """What :func:`run_pending_inline` ran."""

    outcomes: list[RunOutcome] = field(default_factory=list)

    @property
    def directives(self) -> int:
        """How many directive runs happened."""
        return sum(1 for o in self.outcomes if o.kind == "directive")

    @property
    def deliveries(self) -> int:
        """How many delivery runs happened."""
        return sum(1 for o in self.outcomes if o.kind == "delivery")


def run_directive_now(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    owner: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> RunOutcome | None:
    """Claim and run one directive now; None when it is not due (or held by a worker)."""
    claim = claim_directive_inline(
        db, tenant, directive_id, owner=owner, lease_seconds=lease_seconds
    )
    if claim is None:
        return None
    return run_directive(db, registry, tenant, directive_id, claim, policy=policy)


def run_pending_inline(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    owner: str | None = None,
    max_runs: int = 100_000,
) -> InlineReport:
    """Run the tenant's due directives and deliveries until none is due (or ``max_runs``)."""
    owner = owner or default_owner()
    report = InlineReport()
    while len(report.outcomes) < max_runs:
        now = utcnow()
        with db.tenant_session(tenant, readonly=True) as session:
            directive_ids = list(
                session.execute(
                    select(DirectiveRow.id)
                    .where(directive_due(now))
                    .order_by(DirectiveRow.run_after, DirectiveRow.requested_at)
                    .limit(BATCH)
                ).scalars()
            )
            delivery_ids = list(
                session.execute(
                    select(DeliveryRow.id)
                    .where(delivery_due(now))
                    .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
                    .limit(BATCH)
                ).scalars()
            )
        if not directive_ids and not delivery_ids:
            break
        for directive_id in directive_ids:
            claim = claim_directive_inline(db, tenant, directive_id, owner=owner)
            if claim is not None:
                report.outcomes.append(
                    run_directive(db, registry, tenant, directive_id, claim, policy=policy)
                )
        for delivery_id in delivery_ids:
            claim = claim_delivery_inline(db, tenant, delivery_id, owner=owner)
            if claim is not None:
                report.outcomes.append(
                    deliver_signal(db, registry, tenant, delivery_id, claim, policy=policy)
                )
    return report
