"""The context lifecycle hooks (install, upgrade, uninstall) receive.

Its records are the engine's :class:`~fleetprompt_host.engine.records_api.PackageRecords`
bound to the package's *new* manifest, in provisioning mode: records a hook creates are
marked ``provisioned`` with the package and the key the hook chose, while a record that
already existed keeps its flag (an upgrade hook rewriting a user's record never makes it
disappear on uninstall). Everything runs in the lifecycle directive's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.engine.records_api import PackageRecords
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Actor


@dataclass
class HostInstallContext:
    """The :class:`~fleetprompt_sdk.context.InstallContext` handed to lifecycle hooks."""

    tenant: str
    actor: Actor
    correlation_id: str
    package: str
    records: PackageRecords
    config: dict[str, Any] = field(default_factory=dict)


def install_context(
    session: Session,
    manifest: Manifest,
    *,
    tenant: str,
    actor: Actor,
    correlation_id: str,
    directive_id: str | None,
    config: dict[str, Any],
) -> HostInstallContext:
    """Return the hook context for ``manifest``'s package in the directive's session."""
    records = PackageRecords(
        session,
        manifest,
        writable=True,
        provisioned=True,
        directive_id=directive_id,
        actor=str(actor),
    )
    return HostInstallContext(
        tenant=tenant,
        actor=actor,
        correlation_id=correlation_id,
        package=manifest.name,
        records=records,
        config=dict(config),
    )
