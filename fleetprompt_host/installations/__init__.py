"""Installing, configuring, upgrading and removing packages in a tenant.

Every lifecycle operation is a directive (``package.install``, ``package.upgrade``,
``package.uninstall``, ``package.enable``, ``package.disable``; see
:mod:`.directive_types`). Importing this package registers those types and the secret
resolver with the engine, so a process that runs lifecycle directives (a worker, the CLI
with ``--wait``) must import it.

Modules: :mod:`.config` (reading and validating config), :mod:`.secrets` and
:mod:`.secret_store` (encrypted secret values), :mod:`.rotation` (host key rotation),
:mod:`.requirements` (versions, compatibility, dependencies), :mod:`.planner` and
:mod:`.plan` (what a command will do), :mod:`.requests` (submitting and running it),
:mod:`.lifecycle` and :mod:`.removal` (the directive handlers), :mod:`.provisioning`
(seed records and agent profiles), :mod:`.failures`, :mod:`.status`, :mod:`.rollout`
(every tenant at once).
"""

from __future__ import annotations

from .directive_types import register

register()

__all__ = ["register"]
