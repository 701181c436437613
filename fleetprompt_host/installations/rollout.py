"""``--all-tenants``: one lifecycle operation over every tenant, resumable.

Tenants are taken in slug order, each in its own transactions. A tenant where the
operation fails is reported and the rollout carries on. Running the same command again
resumes: tenants already in the wanted state plan to nothing (``skipped``), a tenant whose
directive is still pending gets the same directive back (same idempotency key), and
tenants that failed are tried again. An upgrade passes over tenants where the package is
not installed (``not-installed``, not a failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_sdk.errors import FleetPromptError

from .plan import Plan
from .requests import Operation, PlanBuilder, operate


@dataclass
class TenantOutcome:
    """What happened in one tenant."""

    tenant: str
    outcome: str
    plan: Plan | None = None
    error: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "tenant": self.tenant,
            "outcome": self.outcome,
            "error": self.error,
            "steps": [s.to_json() for s in self.plan.steps] if self.plan else [],
        }


@dataclass
class RolloutReport:
    """The outcome in every tenant."""

    tenants: list[TenantOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """How many tenants ended with ``outcome``."""
        return sum(1 for t in self.tenants if t.outcome == outcome)

    @property
    def failed(self) -> list[TenantOutcome]:
        """The tenants where the operation failed."""
        return [t for t in self.tenants if t.outcome == "failed"]


def _outcome_of(plan: Plan, wait: bool) -> tuple[str, dict[str, Any] | None]:
    if not plan.pending:
        return "skipped", None
    for step in plan.pending:
        if step.status in ("failed", "canceled"):
            error = step.error or {"code": step.status, "message": f"{step.type} {step.status}"}
            return "failed", {**error, "package": step.package}
    return ("done" if wait else "requested"), None


def rollout(
    db: Database,
    registry: PackageRegistry,
    build: PlanBuilder,
    *,
    actor: str,
    wait: bool,
    needs_key: bool = False,
    dry_run: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_tenant: Callable[[TenantOutcome], None] | None = None,
) -> RolloutReport:
    """Run ``build``'s operation in every tenant (see module doc)."""
    report = RolloutReport()
    tenants = db.list_tenants()
    if on_start is not None:
        on_start(len(tenants))
    for tenant in tenants:
        op = Operation(tenant.slug, actor, build, dry_run=dry_run, wait=wait, needs_key=needs_key)
        try:
            plan = operate(db, registry, op)
            outcome, error = ("planned", None) if dry_run else _outcome_of(plan, wait)
            result = TenantOutcome(tenant.slug, outcome, plan, error)
        except FleetPromptError as exc:
            # An upgrade everywhere passes over tenants that never installed the package.
            outcome = "not-installed" if exc.code == "not-installed" else "failed"
            result = TenantOutcome(
                tenant.slug, outcome, None, {"code": exc.code, "message": exc.message}
            )
        except Exception as exc:  # one tenant's database trouble must not stop the rest
            result = TenantOutcome(
                tenant.slug, "failed", None, {"code": "unexpected", "message": repr(exc)}
            )
        report.tenants.append(result)
        if on_tenant is not None:
            on_tenant(result)
    return report
