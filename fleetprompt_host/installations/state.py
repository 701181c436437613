"""Reading and writing installation rows: one per (tenant, package).

Statuses: ``requested`` (a first install is waiting to run), ``installing`` (shown while
its directive runs), ``installed``, ``failed`` (the last install failed; ``error`` says
why), ``disabled`` and ``uninstalled``. A package is *present* for its dependents when it
is installed or disabled, and *active* (tools offered, handlers fed, directives accepted)
only when installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fleetprompt_host.engine.installed import forget_active_packages
from fleetprompt_host.storage.base import new_id, utcnow
from fleetprompt_host.storage.models import InstallationRow
from fleetprompt_sdk.errors import NotFoundError
from fleetprompt_sdk.manifest import Manifest

from .requirements import PRESENT, Present

#: Statuses from which a package has nothing installed in the tenant.
ABSENT = ("requested", "failed", "uninstalled")


@dataclass(frozen=True)
class InstallationInfo:
    """An installation as operators see it (never with secret values)."""

    package: str
    version: str
    status: str
    config: dict[str, Any]
    secret_fields: list[str]
    config_checksum: str | None
    requested_by: str
    directive_id: str | None
    error: dict[str, Any] | None
    revision: int
    installed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: InstallationRow, status: str | None = None) -> InstallationInfo:
        """Build from a row; ``status`` overrides the stored one (see :mod:`.status`)."""
        return cls(
            package=row.package,
            version=row.version,
            status=status or row.status,
            config=dict(row.config or {}),
            secret_fields=sorted(secret_refs(row)),
            config_checksum=row.config_checksum,
            requested_by=row.requested_by,
            directive_id=row.directive_id,
            error=row.error,
            revision=row.generation,
            installed_at=row.installed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (secret fields by name only)."""
        return {
            "package": self.package,
            "version": self.version,
            "status": self.status,
            "config": self.config,
            "secret_fields": self.secret_fields,
            "config_checksum": self.config_checksum,
            "requested_by": self.requested_by,
            "directive_id": self.directive_id,
            "error": self.error,
            "revision": self.revision,
            "installed_at": self.installed_at.isoformat() if self.installed_at else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def secret_refs(row: InstallationRow) -> dict[str, str]:
    """Return the row's secret references as field -> reference."""
    return {str(k): str(v) for k, v in (row.secret_refs or {}).items()}


def get_row(session: Session, package: str, *, lock: bool = False) -> InstallationRow | None:
    """Return the installation row of ``package`` (locked for update when ``lock``)."""
    stmt = select(InstallationRow).where(InstallationRow.package == package)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def require_row(session: Session, package: str, *, lock: bool = False) -> InstallationRow:
    """Return the row of ``package`` or raise :class:`NotFoundError` (``not-installed``)."""
    row = get_row(session, package, lock=lock)
    if row is None or row.status in ("uninstalled",):
        raise NotFoundError(f"package {package!r} is not installed here", code="not-installed")
    return row


def all_rows(session: Session) -> list[InstallationRow]:
    """Return every installation row of the tenant, by package name."""
    return list(
        session.execute(select(InstallationRow).order_by(InstallationRow.package)).scalars()
    )


def present(session: Session) -> dict[str, Present]:
    """Return the packages present in the tenant (installed or disabled), with versions."""
    return {
        row.package: Present(row.version, row.status)
        for row in all_rows(session)
        if row.status in PRESENT
    }


def installed_manifests(session: Session) -> dict[str, Manifest]:
    """Return the manifests of the installed versions of every present package."""
    out: dict[str, Manifest] = {}
    for row in all_rows(session):
        if row.status in PRESENT and row.manifest:
            out[row.package] = Manifest.model_validate(row.manifest)
    return out


def ensure_requested(
    session: Session, package: str, version: str, *, requested_by: str
) -> InstallationRow:
    """Return the package's row, creating it as ``requested`` when there is none.

    Concurrent first requests create one row: the unique package name decides and the
    loser reads the winner's row.
    """
    row = get_row(session, package)
    if row is not None:
        return row
    now = utcnow()
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InstallationRow)
    session.execute(
        stmt.values(
            id=new_id(),
            package=package,
            version=version,
            status="requested",
            config={},
            secret_refs={},
            requested_by=requested_by,
            generation=0,
            created_at=now,
            updated_at=now,
        ).on_conflict_do_nothing(index_elements=[InstallationRow.package])
    )
    row = get_row(session, package)
    assert row is not None
    return row


def mark_requested(
    session: Session,
    package: str,
    version: str,
    *,
    directive_id: str,
    requested_by: str,
    install: bool,
) -> None:
    """Point the installation at a just-requested lifecycle directive, in one statement.

    An install creates the row as ``requested`` or, when nothing is installed, turns it
    back to ``requested`` at the new version; other operations only record the directive.
    """
    table = cast(Table, InstallationRow.__table__)
    now = utcnow()
    if not install:
        session.execute(
            update(table)
            .where(table.c.package == package)
            .values(directive_id=directive_id, updated_at=now)
        )
        return
    absent = table.c.status.in_(ABSENT)
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        id=new_id(),
        package=package,
        version=version,
        status="requested",
        config={},
        secret_refs={},
        requested_by=requested_by,
        directive_id=directive_id,
        generation=0,
        created_at=now,
        updated_at=now,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.package],
            set_={
                "directive_id": directive_id,
                "updated_at": now,
                "status": case((absent, "requested"), else_=table.c.status),
                "version": case((absent, version), else_=table.c.version),
                "requested_by": case((absent, requested_by), else_=table.c.requested_by),
            },
        )
    )


def save(session: Session, row: InstallationRow, **values: Any) -> None:
    """Apply ``values`` to ``row``, bump its lifecycle revision and flush."""
    for name, value in values.items():
        setattr(row, name, value)
    row.generation = (row.generation or 0) + 1
    row.updated_at = utcnow()
    session.flush()
    forget_active_packages(session)


def manifest_json(manifest: Manifest) -> dict[str, Any]:
    """Return the manifest as stored on the installation (the installed version's contract)."""
    return manifest.model_dump(mode="json", by_alias=True)
