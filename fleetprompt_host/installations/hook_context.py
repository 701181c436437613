"""The context lifecycle hooks (install, upgrade, uninstall) receive.

Its records are the engine's :class:`~fleetprompt_host.engine.records_api.PackageRecords`
bound to the package's *new* manifest (``HostDirectiveContext.records_for``), in
provisioning mode: records a hook creates are marked ``provisioned`` with the package and
the key the hook chose, while a record that already existed keeps its flag (an upgrade
hook rewriting a user's record never makes it disappear on uninstall). Everything runs in
the lifecycle directive's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleetprompt_host.engine.records_api import PackageRecords
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
