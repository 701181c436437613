"""What is installed in a tenant, as operators see it (``fleetprompt installations``).

The status shown is the stored one, refined by the installation's last lifecycle
directive: a ``requested`` install whose directive is running shows as ``installing``, one
whose directive failed shows as ``failed`` (even before the failure is recorded on the
row), and a pending upgrade, uninstall, enable or disable is listed next to the status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import DirectiveRow, InstallationRow, RecordRow
from fleetprompt_sdk.errors import NotFoundError
from fleetprompt_sdk.manifest import Manifest

from . import state
from .failures import failure_doc
from .provisioning import AGENT_COLLECTION


@dataclass(frozen=True)
class InstallationView:
    """An installation with its effective status and any pending operation."""

    info: state.InstallationInfo
    pending: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (no secret values)."""
        return {**self.info.to_json(), "pending": self.pending}


def _view(row: InstallationRow, directive: DirectiveRow | None) -> InstallationView:
    status, error = row.status, row.error
    pending: dict[str, Any] | None = None
    if directive is not None:
        action = directive.type.removeprefix("package.")
        if directive.status in ("requested", "running"):
            if row.status == "requested" and directive.status == "running":
                status = "installing"
            elif row.status != "requested":
                pending = {
                    "action": action,
                    "directive_id": directive.id,
                    "status": directive.status,
                }
                if action == "upgrade":
                    pending["version"] = str(directive.params.get("version"))
        elif (
            directive.status in ("failed", "canceled")
            and (error or {}).get("directive_id") != directive.id
        ):
            error = failure_doc(directive)
            if action == "install" and row.status in state.ABSENT:
                status = "failed"
    info = state.InstallationInfo.from_row(row, status=status)
    if error is not row.error:
        info = state.InstallationInfo(**{**info.__dict__, "error": error})
    return InstallationView(info, pending)


def list_installations(
    session: Session, *, include_uninstalled: bool = True
) -> list[InstallationView]:
    """Return the tenant's installations by package name."""
    rows = session.execute(
        select(InstallationRow, DirectiveRow)
        .outerjoin(DirectiveRow, DirectiveRow.id == InstallationRow.directive_id)
        .order_by(InstallationRow.package)
    ).all()
    views = [_view(row, directive) for row, directive in rows]
    if not include_uninstalled:
        views = [v for v in views if v.info.status != "uninstalled"]
    return views


def show_installation(session: Session, package: str) -> dict[str, Any]:
    """Return one installation with its records, agent profiles and tools."""
    views = {v.info.package: v for v in list_installations(session)}
    if package not in views:
        raise NotFoundError(f"{package} was never installed here", code="not-installed")
    row = state.get_row(session, package)
    assert row is not None
    counts = session.execute(
        select(RecordRow.collection, RecordRow.provisioned, func.count())
        .where(RecordRow.package == package)
        .group_by(RecordRow.collection, RecordRow.provisioned)
    ).all()
    records: dict[str, dict[str, int]] = {}
    for collection, provisioned, count in counts:
        entry = records.setdefault(str(collection), {"provisioned": 0, "user": 0})
        entry["provisioned" if provisioned else "user"] += int(count)
    manifest = Manifest.model_validate(row.manifest) if row.manifest else None
    agents = records.pop(AGENT_COLLECTION, None)
    return {
        **views[package].to_json(),
        "records": records,
        "agent_profiles": [a.name for a in manifest.agents] if manifest and agents else [],
        "tools": [t.name for t in manifest.tools] if manifest else [],
        "collections": [c.name for c in manifest.collections] if manifest else [],
    }
