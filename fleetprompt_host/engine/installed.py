"""Which packages are active in a tenant: the ones whose installation is ``installed``.

The installations layer owns the ``installations`` table; the engine only reads it, to
decide which handlers a signal fans out to and which packages' directives may run. The
answer is cached per transaction. :func:`mark_installed` records an installation directly,
for tests and embedding hosts that do not run the install directive.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import InstallationRow

from .statements import ACTIVE_PACKAGES

_CACHE_KEY = "fp_active_packages"


def active_packages(session: Session) -> frozenset[str]:
    """Return the names of the packages installed and enabled in the session's tenant."""
    cached = session.info.get(_CACHE_KEY)
    if cached is None:
        names = session.execute(ACTIVE_PACKAGES).scalars()
        cached = frozenset(names)
        session.info[_CACHE_KEY] = cached
    return frozenset(cached)


def remember_active_packages(session: Session, value: Any) -> None:
    """Cache the JSON array of active packages loaded with a row (see
    :func:`~fleetprompt_host.engine.statements.directive_for_run`) for the transaction."""
    names = json.loads(value) if isinstance(value, str) else value
    session.info[_CACHE_KEY] = frozenset(names or ())


def forget_active_packages(session: Session) -> None:
    """Drop the per-transaction cache (after an installation changed in this session)."""
    session.info.pop(_CACHE_KEY, None)


def mark_installed(
    session: Session,
    package: str,
    version: str = "0",
    *,
    actor: str = "system:fleetprompt",
    status: str = "installed",
) -> None:
    """Record ``package`` as installed (or another ``status``) without running installers."""
    row = session.execute(
        select(InstallationRow).where(InstallationRow.package == package)
    ).scalar_one_or_none()
    if row is None:
        row = InstallationRow(package=package, version=version, status=status, requested_by=actor)
        session.add(row)
    else:
        row.version, row.status = version, status
    if status == "installed":
        row.installed_at = utcnow()
    session.flush()
    forget_active_packages(session)
