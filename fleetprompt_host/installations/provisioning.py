"""Provisioning a package's tenant records, declaratively and through its hooks.

Declarative records come from the manifest: ``seed`` records and ``agents`` (agent
profiles become records of the reserved collection :data:`AGENT_COLLECTION`). Every one is
identified by (package, collection, key) and marked ``provisioned``; re-running creates
nothing twice. Programmatic records come from the package's install hook, written through
:class:`~.install_records.InstallRecords`. Uninstall removes what was provisioned (and,
with ``purge``, everything the package owns).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import RecordRow
from fleetprompt_sdk.manifest import Manifest

#: The collection agent profiles are stored in; unlike package collections it starts with
#: an underscore, so it can never clash with one.
AGENT_COLLECTION = "_agents"


@dataclass
class ProvisionReport:
    """What provisioning created, refreshed and removed (``collection/key`` strings)."""

    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "created": self.created,
            "kept": self.kept,
            "refreshed": self.refreshed,
            "removed": self.removed,
        }


def _existing_keys(session: Session, package: str, collection: str | None = None) -> set[str]:
    stmt = select(RecordRow.collection, RecordRow.key).where(RecordRow.package == package)
    if collection is not None:
        stmt = stmt.where(RecordRow.collection == collection)
    return {f"{c}/{k}" for c, k in session.execute(stmt).all()}


def agent_data(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Return the agent profile records of ``manifest``: name -> data."""
    return {
        agent.name: {**agent.model_dump(mode="json"), "version": manifest.version}
        for agent in manifest.agents
    }


def planned_records(session: Session | None, manifest: Manifest) -> list[str]:
    """Return the declarative records an install of ``manifest`` would create now."""
    existing = _existing_keys(session, manifest.name) if session is not None else set()
    wanted = [f"{s.collection}/{s.key}" for s in manifest.seed]
    wanted += [f"{AGENT_COLLECTION}/{name}" for name in agent_data(manifest)]
    return [ident for ident in wanted if ident not in existing]


def provision(
    session: Session, manifest: Manifest, *, actor: str, directive_id: str | None
) -> ProvisionReport:
    """Write ``manifest``'s seed records and agent profiles into the tenant.

    A seed that already exists is kept as it is (a user may have edited it). Agent
    profiles are refreshed to the manifest's definition; profiles the manifest no longer
    declares are removed.
    """
    report = ProvisionReport()
    existing = _existing_keys(session, manifest.name)
    for seed in manifest.seed:
        ident = f"{seed.collection}/{seed.key}"
        if ident in existing:
            report.kept.append(ident)
            continue
        session.add(
            _new_row(manifest.name, seed.collection, seed.key, seed.data, actor, directive_id)
        )
        existing.add(ident)
        report.created.append(ident)
    _sync_agents(session, manifest, existing, report, actor=actor, directive_id=directive_id)
    session.flush()
    return report


def _new_row(
    package: str,
    collection: str,
    key: str,
    data: dict[str, Any],
    actor: str,
    directive_id: str | None,
) -> RecordRow:
    return RecordRow(
        package=package,
        collection=collection,
        key=key,
        data=dict(data),
        provisioned=True,
        created_by_actor=actor,
        created_by_directive=directive_id,
        updated_by_directive=directive_id,
    )


def _sync_agents(
    session: Session,
    manifest: Manifest,
    existing: set[str],
    report: ProvisionReport,
    *,
    actor: str,
    directive_id: str | None,
) -> None:
    wanted = agent_data(manifest)
    if not any(ident.startswith(f"{AGENT_COLLECTION}/") for ident in existing):
        for name, data in sorted(wanted.items()):
            session.add(_new_row(manifest.name, AGENT_COLLECTION, name, data, actor, directive_id))
            report.created.append(f"{AGENT_COLLECTION}/{name}")
        return
    rows = session.execute(
        select(RecordRow).where(
            RecordRow.package == manifest.name, RecordRow.collection == AGENT_COLLECTION
        )
    ).scalars()
    for row in rows:
        ident = f"{AGENT_COLLECTION}/{row.key}"
        if row.key not in wanted:
            session.delete(row)
            report.removed.append(ident)
            continue
        data = wanted.pop(row.key)
        if row.data != data:
            row.data = data
            row.revision += 1
            row.updated_by_directive = directive_id
            report.refreshed.append(ident)
        else:
            report.kept.append(ident)
    for name, data in sorted(wanted.items()):
        session.add(_new_row(manifest.name, AGENT_COLLECTION, name, data, actor, directive_id))
        report.created.append(f"{AGENT_COLLECTION}/{name}")
        existing.add(f"{AGENT_COLLECTION}/{name}")


def removal_counts(session: Session, package: str, *, purge: bool) -> dict[str, int]:
    """Return ``{collection: count}`` of the records an uninstall would remove."""
    stmt = (
        select(RecordRow.collection, func.count())
        .where(RecordRow.package == package)
        .group_by(RecordRow.collection)
    )
    if not purge:
        stmt = stmt.where(RecordRow.provisioned.is_(True))
    return {str(c): int(n) for c, n in session.execute(stmt).all()}


def kept_counts(session: Session, package: str) -> dict[str, int]:
    """Return ``{collection: count}`` of the user records an uninstall without purge keeps."""
    stmt = (
        select(RecordRow.collection, func.count())
        .where(RecordRow.package == package, RecordRow.provisioned.is_(False))
        .group_by(RecordRow.collection)
    )
    return {str(c): int(n) for c, n in session.execute(stmt).all()}


def deprovision(session: Session, package: str, *, purge: bool) -> dict[str, int]:
    """Delete the package's provisioned records (every record with ``purge``); return counts."""
    counts = Counter(removal_counts(session, package, purge=purge))
    stmt = delete(RecordRow).where(RecordRow.package == package)
    if not purge:
        stmt = stmt.where(RecordRow.provisioned.is_(True))
    session.execute(stmt)
    return dict(counts)
