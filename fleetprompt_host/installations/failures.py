"""Recording failed lifecycle directives on their installations.

A failed directive's effects roll back with it, so the failure is written afterwards, in a
transaction of its own: the installation gets ``error`` (code, message, directive, action)
and a new lifecycle revision (so asking again is a new directive); a failed first install
becomes ``failed``, while a failed upgrade, uninstall, enable or disable leaves the
installation as it was (the old version keeps working). ``package.<action>.failed`` is
emitted once per failed directive attempt.

This runs right after an inline run (``--wait``) and at the start of every lifecycle
command and listing, so a failure a worker recorded shows up at the next look; listings
also derive the status from the directive directly (see :mod:`.status`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.models import DirectiveRow, InstallationRow

from . import state
from .trail import lifecycle_event

FAILED_DIRECTIVE = ("failed", "canceled")


def unrecorded(session: Session) -> list[tuple[InstallationRow, DirectiveRow]]:
    """Return installations whose last lifecycle directive failed without being recorded."""
    rows = session.execute(
        select(InstallationRow, DirectiveRow)
        .join(DirectiveRow, DirectiveRow.id == InstallationRow.directive_id)
        .where(DirectiveRow.status.in_(FAILED_DIRECTIVE))
    ).all()
    out: list[tuple[InstallationRow, DirectiveRow]] = []
    for installation, directive in rows:
        recorded = (installation.error or {}).get("directive_id")
        if recorded != directive.id:
            out.append((installation, directive))
    return out


def failure_doc(directive: DirectiveRow) -> dict[str, Any]:
    """Return the installation ``error`` describing ``directive``'s failure."""
    error = dict(directive.error or {})
    action = directive.type.removeprefix("package.")
    if directive.status == "canceled":
        error = {"code": "canceled", "message": f"the {action} directive was canceled"}
    return {
        "code": str(error.get("code", "failed")),
        "message": str(error.get("message", f"the {action} directive failed")),
        "directive_id": directive.id,
        "action": action,
        "attempts": directive.attempts,
    }


def record_failures(session: Session, registry: PackageRegistry, tenant: str) -> list[str]:
    """Record every unrecorded lifecycle failure in the tenant; return the packages."""
    done: list[str] = []
    for installation, directive in unrecorded(session):
        error = failure_doc(directive)
        values: dict[str, Any] = {"error": error}
        if error["action"] == "install" and installation.status in state.ABSENT:
            values["status"] = "failed"
        state.save(session, installation, **values)
        lifecycle_event(
            session,
            registry,
            tenant,
            action=error["action"],
            event="failed",
            package=installation.package,
            directive_id=directive.id,
            actor=directive.actor,
            correlation_id=directive.correlation_id,
            data={"code": error["code"], "message": error["message"][:500]},
            attempt=directive.attempts,
        )
        done.append(installation.package)
    return done
