"""Permission consistency: each section a manifest fills needs its permission declared.

These are warnings, not errors: a missing permission is refused at run time by the
host anyway, but an author wants to learn it before publishing, not from an operator.
"""

from __future__ import annotations

from collections.abc import Iterator

from fleetprompt_sdk.enums import Permission
from fleetprompt_sdk.errors import Problem

from .view import ManifestView


def _needs(view: ManifestView) -> Iterator[tuple[Permission, str, str]]:
    """Yield ``(permission, path, reason)`` for each section that needs a permission."""
    if any(True for _ in view.entries("signals", "emits")):
        yield Permission.SIGNALS_EMIT, "signals.emits", "the package emits signals"
    if any(True for _ in view.entries("signals", "subscribes")):
        yield (
            Permission.SIGNALS_SUBSCRIBE,
            "signals.subscribes",
            "the package subscribes to signals",
        )
    if any(True for _ in view.entries("directives")):
        yield Permission.DIRECTIVES_HANDLE, "directives", "the package handles directives"
    if any(e.text("effect") == "read" for e in view.entries("tools")):
        yield Permission.RECORDS_READ, "tools", "read tools read tenant records"
    if any(e.text("effect") == "write" for e in view.entries("tools")):
        yield Permission.DIRECTIVES_REQUEST, "tools", "write tools request directives"
    if any(True for _ in view.entries("seed")):
        yield Permission.RECORDS_WRITE, "seed", "seed records are written at install time"
    properties = view.section("config", "schema", "properties")
    if isinstance(properties, dict) and any(
        isinstance(p, dict) and p.get("secret") is True for p in properties.values()
    ):
        yield Permission.SECRETS_READ, "config.schema", "the config has secret fields"


def check_permissions(view: ManifestView) -> Iterator[Problem]:
    """Warn when a section is used without the permission it needs."""
    declared = {value for _, value in view.strings("permissions")}
    for permission, path, reason in _needs(view):
        if permission.value not in declared:
            yield Problem(
                "missing-permission",
                path,
                f"{reason} but 'permissions' lacks {permission.value!r}",
                severity="warning",
            )


RULES = (check_permissions,)
