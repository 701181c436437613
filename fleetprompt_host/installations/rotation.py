"""``fleetprompt secrets rotate-key``: move every tenant's secrets to a new host key.

With the key file (the default) the whole rotation is one command:

1. a new key is generated and written *in front of* the old one (both decrypt);
2. every tenant's secrets are re-encrypted with the new key, one transaction per tenant;
3. when no secret anywhere still uses an old key, the old keys are dropped from the file.

An interrupted or partly failed run leaves the file with several keys; running the command
again resumes (it re-encrypts to the key already in front and does not generate another).
With ``FLEETPROMPT_SECRET_KEY`` the operator puts the new key first in the variable
(``NEW,OLD``), runs the command, then removes ``OLD`` from the variable when told it is
unused.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetprompt_host.storage import Database

from . import secret_store
from .secrets import (
    KEY_ENV,
    Keyring,
    generate_key,
    key_file_path,
    load_keyring,
    write_key_file,
)


@dataclass
class TenantRotation:
    """The outcome for one tenant."""

    slug: str
    reencrypted: int = 0
    error: str | None = None


@dataclass
class RotationReport:
    """What a rotation did."""

    source: str
    primary_id: str
    generated: bool
    tenants: list[TenantRotation] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    still_used: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> list[TenantRotation]:
        """Tenants whose secrets could not all be re-encrypted."""
        return [t for t in self.tenants if t.error is not None]

    @property
    def complete(self) -> bool:
        """True when every secret now uses the primary key."""
        return not self.failed and not self.still_used


def _prepare_keyring() -> tuple[Keyring, bool]:
    keyring = load_keyring(create=True)
    if keyring.source == KEY_ENV or len(keyring.keys) > 1:
        return keyring, False
    new = base64.urlsafe_b64decode(generate_key() + "=")
    write_key_file(key_file_path(), [new, *keyring.keys])
    return load_keyring(), True


def rotate_key(
    db: Database,
    *,
    on_start: Callable[[int], None] | None = None,
    on_tenant: Callable[[TenantRotation], None] | None = None,
) -> RotationReport:
    """Re-encrypt every tenant's secrets with the primary key; retire unused old keys."""
    keyring, generated = _prepare_keyring()
    report = RotationReport(keyring.source, keyring.primary_id, generated)
    tenants = db.list_tenants()
    if on_start is not None:
        on_start(len(tenants))
    for tenant in tenants:
        result = TenantRotation(tenant.slug)
        try:
            with db.tenant_session(tenant.slug) as session:
                result.reencrypted = secret_store.reencrypt(session, keyring, tenant.slug)
        except Exception as exc:  # one tenant's failure must not stop the others
            result.error = f"{type(exc).__name__}: {exc}"
        report.tenants.append(result)
        if on_tenant is not None:
            on_tenant(result)
    if report.failed:
        return report
    report.still_used = _old_key_usage(db, keyring)
    if not report.still_used:
        report.retired = keyring.ids[1:]
        if keyring.source != KEY_ENV and report.retired:
            write_key_file(key_file_path(), keyring.keys[:1])
    return report


def _old_key_usage(db: Database, keyring: Keyring) -> dict[str, int]:
    """Return, per tenant, how many secrets still use a key other than the primary."""
    used: dict[str, int] = {}
    for tenant in db.list_tenants():
        with db.tenant_session(tenant.slug, readonly=True) as session:
            usage = secret_store.key_usage(session)
        stale = sum(n for kid, n in usage.items() if kid != keyring.primary_id)
        if stale:
            used[tenant.slug] = stale
    return used
