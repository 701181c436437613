"""``fleetprompt db upgrade`` and ``db status``: host first, then every tenant.

Each tenant is migrated in its own transaction and its new revision is recorded in the
host registry as it completes, so an interrupted run resumes where it stopped, and one
failing tenant is reported while the others carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from . import migrate
from .base import utcnow
from .database import Database
from .models.host import TenantRow
from .registry import fetch_tenants


@dataclass(frozen=True)
class TenantUpgrade:
    """What happened to one tenant during an upgrade."""

    slug: str
    before: str | None
    after: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the tenant reached the target."""
        return self.error is None


@dataclass
class UpgradeReport:
    """The outcome of :func:`upgrade_all`."""

    host_before: str | None
    host_after: str | None
    target: str
    tenants: list[TenantUpgrade] = field(default_factory=list)

    @property
    def failed(self) -> list[TenantUpgrade]:
        """Tenants that did not reach the target."""
        return [t for t in self.tenants if not t.ok]


def upgrade_all(
    db: Database,
    *,
    target: str = "head",
    extra_locations: Sequence[str] = (),
    on_tenant: Callable[[TenantUpgrade], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> UpgradeReport:
    """Upgrade the host tables, then every tenant not yet at ``target``.

    ``on_start`` receives the number of tenants to upgrade; ``on_tenant`` each result.
    """
    host_before = db.host_revision()
    host_after = db.upgrade_host()
    tenant_target = migrate.head("tenant", extra_locations) if target == "head" else target
    report = UpgradeReport(host_before, host_after, tenant_target)
    with db.backend.host_transaction(write=False) as conn:
        pending = [r for r in fetch_tenants(conn) if r.schema_revision != tenant_target]
        pending = [r for r in pending if r.status == "active"]
    if on_start is not None:
        on_start(len(pending))
    for row in pending:
        result = _upgrade_one(db, row, tenant_target, extra_locations)
        report.tenants.append(result)
        if on_tenant is not None:
            on_tenant(result)
    return report


def _upgrade_one(
    db: Database, row: TenantRow, target: str, extra_locations: Sequence[str]
) -> TenantUpgrade:
    try:
        with db.backend.host_transaction() as conn:
            after = db.backend.migrate_tenant(conn, row, target, extra_locations)
            conn.execute(
                update(TenantRow)
                .where(TenantRow.slug == row.slug)
                .values(schema_revision=after, migrated_at=utcnow(), last_error=None)
            )
    except Exception as error:
        message = _one_line(error)
        with db.backend.host_transaction() as conn:
            conn.execute(
                update(TenantRow).where(TenantRow.slug == row.slug).values(last_error=message)
            )
        return TenantUpgrade(row.slug, row.schema_revision, row.schema_revision, message)
    db.forget_tenant_engine(row.slug)
    return TenantUpgrade(row.slug, row.schema_revision, after)


def status(db: Database) -> dict[str, Any]:
    """Return the host and tenant revisions, and the tenants not at head (stragglers)."""
    host_head = migrate.head("host")
    tenant_head = migrate.head("tenant")
    host_revision = db.host_revision()
    tenants = db.list_tenants()
    rows = [
        {
            "slug": t.slug,
            "revision": t.schema_revision,
            "current": t.schema_revision == tenant_head,
            "migrated_at": t.migrated_at.isoformat() if t.migrated_at else None,
            "last_error": t.last_error,
        }
        for t in tenants
    ]
    return {
        "database": db.masked_url,
        "host": {
            "revision": host_revision,
            "head": host_head,
            "current": host_revision == host_head,
        },
        "tenant_head": tenant_head,
        "tenants": rows,
        "stragglers": [r["slug"] for r in rows if not r["current"]],
    }


def _one_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}"[:500]
