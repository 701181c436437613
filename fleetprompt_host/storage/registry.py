"""The tenant registry as callers see it: :class:`TenantInfo` and host-table queries."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from .models.host import HostAuditRow, TenantRow


@dataclass(frozen=True)
class TenantInfo:
    """A tenant as listed by ``fleetprompt tenants`` (never carries credentials)."""

    slug: str
    display_name: str
    status: str
    schema_name: str
    schema_revision: str | None
    created_by: str
    created_at: datetime
    migrated_at: datetime | None = None
    last_error: str | None = None

    @classmethod
    def from_row(cls, row: TenantRow) -> TenantInfo:
        """Build the public view of a registry row."""
        return cls(
            slug=row.slug,
            display_name=row.display_name,
            status=row.status,
            schema_name=row.schema_name,
            schema_revision=row.schema_revision,
            created_by=row.created_by,
            created_at=row.created_at,
            migrated_at=row.migrated_at,
            last_error=row.last_error,
        )

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (timestamps in ISO 8601)."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


def _row_from_mapping(mapping: Any) -> TenantRow:
    row = TenantRow()
    for key, value in mapping.items():
        setattr(row, key, value)
    return row


def fetch_tenant(conn: Connection, slug: str) -> TenantRow | None:
    """Return the registry row of ``slug`` (a detached object), if any."""
    result = conn.execute(select(TenantRow.__table__).where(TenantRow.slug == slug))
    mapping = result.mappings().first()
    return None if mapping is None else _row_from_mapping(mapping)


def fetch_tenants(conn: Connection) -> list[TenantRow]:
    """Return every registry row, ordered by slug."""
    result = conn.execute(select(TenantRow.__table__).order_by(TenantRow.slug))
    return [_row_from_mapping(m) for m in result.mappings()]


def audit(conn: Connection, actor: str, action: str, slug: str | None, **details: Any) -> None:
    """Record a host-level action in ``host_audit``."""
    conn.execute(
        insert(HostAuditRow).values(actor=actor, action=action, tenant_slug=slug, details=details)
    )
