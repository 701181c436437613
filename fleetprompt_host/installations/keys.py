"""Idempotency keys of lifecycle directives and dedupe keys of their signals.

Directive keys (one directive per distinct intent; a repeated request returns it):

``package.install:<package>:<version>:<config checksum>:r<revision>``
``package.upgrade:<package>:<from>:<to>:<config checksum>:r<revision>``
``package.uninstall:<package>:<version>:<keep|purge>:r<revision>``
``package.enable:<package>:r<revision>`` and ``package.disable:<package>:r<revision>``

The tenant is implicit (directives live in the tenant's own schema). ``revision`` is the
installation's lifecycle revision when the request was made (0 before the first install):
it changes with every completed or failed lifecycle directive, so asking again after a
change (reinstall after uninstall, retry after a failure, disable after enable) is a new
directive, while a double request in between is one. The config checksum covers the
normalised non-secret config only; the params carry references to secrets, never values.

Signal dedupe keys: ``<signal type>:<directive id>`` for ``requested`` and ``completed``
(once per directive), ``<signal type>:<directive id>:<attempt>`` for ``started`` and
``failed`` (once per attempt).
"""

from __future__ import annotations

import hashlib

CHECKSUM_CHARS = 16
MAX_KEY = 200


def _bounded(key: str) -> str:
    # Idempotency keys are at most 200 characters; absurdly long versions get hashed.
    if len(key) <= MAX_KEY:
        return key
    return key[:120] + ":h" + hashlib.sha256(key.encode()).hexdigest()[:40]


def install_key(package: str, version: str, checksum: str, revision: int) -> str:
    """Return the idempotency key of an install request."""
    return _bounded(f"package.install:{package}:{version}:{checksum[:CHECKSUM_CHARS]}:r{revision}")


def upgrade_key(
    package: str, from_version: str, to_version: str, checksum: str, revision: int
) -> str:
    """Return the idempotency key of an upgrade (or reconfigure) request."""
    short = checksum[:CHECKSUM_CHARS]
    return _bounded(f"package.upgrade:{package}:{from_version}:{to_version}:{short}:r{revision}")


def uninstall_key(package: str, version: str, purge: bool, revision: int) -> str:
    """Return the idempotency key of an uninstall request."""
    mode = "purge" if purge else "keep"
    return _bounded(f"package.uninstall:{package}:{version}:{mode}:r{revision}")


def toggle_key(action: str, package: str, revision: int) -> str:
    """Return the idempotency key of an enable or disable request."""
    return f"package.{action}:{package}:r{revision}"


def signal_dedupe_key(action: str, event: str, directive_id: str, attempt: int = 0) -> str:
    """Return the dedupe key of ``package.<action>.<event>`` for one directive."""
    base = f"package.{action}.{event}:{directive_id}"
    return f"{base}:{attempt}" if event in ("started", "failed") else base
