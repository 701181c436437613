"""Registration of the lifecycle directive types with the engine, and their params schemas.

``package.install``, ``package.upgrade``, ``package.uninstall``, ``package.enable`` and
``package.disable`` are host directive types requiring the ``admin`` role (owners pass
too). Their params carry the non-secret config and references to stored secrets, never
secret values. :func:`register` is idempotent and runs when
:mod:`fleetprompt_host.installations` is imported.
"""

from __future__ import annotations

from typing import Any

from fleetprompt_host.engine.contexts import set_secret_resolver
from fleetprompt_host.engine.host_directives import HostDirectiveType, register_host_directive
from fleetprompt_sdk.enums import Role
from fleetprompt_sdk.naming import PACKAGE_NAME_PATTERN

from .lifecycle import handle_install, handle_upgrade
from .removal import handle_disable, handle_enable, handle_uninstall
from .secret_store import resolve_installed_secret

_PACKAGE = {"type": "string", "pattern": PACKAGE_NAME_PATTERN}
_VERSION = {"type": "string", "minLength": 1, "maxLength": 64}
_REFS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "field": {"type": "string", "minLength": 1, "maxLength": 100},
            "ref": {"type": "string", "pattern": "^sec_[0-9a-f]{40}$"},
        },
        "required": ["field", "ref"],
        "additionalProperties": False,
    },
}
_CONFIGURED = {
    "config": {"type": "object"},
    "secret_refs": _REFS,
    "config_checksum": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}


def _schema(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


INSTALL_PARAMS = _schema(
    {
        "package": _PACKAGE,
        "version": _VERSION,
        **_CONFIGURED,
        "dependency_of": {"type": ["string", "null"]},
    },
    "package",
    "version",
    "config",
    "secret_refs",
    "config_checksum",
)
UPGRADE_PARAMS = _schema(
    {"package": _PACKAGE, "from_version": _VERSION, "version": _VERSION, **_CONFIGURED},
    "package",
    "from_version",
    "version",
    "config",
    "secret_refs",
    "config_checksum",
)
UNINSTALL_PARAMS = _schema(
    {
        "package": _PACKAGE,
        "version": _VERSION,
        "purge": {"type": "boolean"},
        "dependent_of": {"type": ["string", "null"]},
    },
    "package",
    "version",
    "purge",
)
TOGGLE_PARAMS = _schema({"package": _PACKAGE}, "package")

TYPES = (
    HostDirectiveType(
        "package.install", handle_install, INSTALL_PARAMS, Role.ADMIN, "Install a package."
    ),
    HostDirectiveType(
        "package.upgrade",
        handle_upgrade,
        UPGRADE_PARAMS,
        Role.ADMIN,
        "Upgrade or reconfigure an installed package.",
    ),
    HostDirectiveType(
        "package.uninstall",
        handle_uninstall,
        UNINSTALL_PARAMS,
        Role.ADMIN,
        "Remove a package and what it provisioned.",
    ),
    HostDirectiveType(
        "package.enable", handle_enable, TOGGLE_PARAMS, Role.ADMIN, "Enable a disabled package."
    ),
    HostDirectiveType(
        "package.disable", handle_disable, TOGGLE_PARAMS, Role.ADMIN, "Disable a package."
    ),
)


def register() -> None:
    """Register the lifecycle directive types and the secret resolver with the engine."""
    for spec in TYPES:
        register_host_directive(spec)
    set_secret_resolver(resolve_installed_secret)
