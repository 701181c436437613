"""Storing, reading and re-encrypting a tenant's secret config values.

Each value is one row of ``installation_secrets`` addressed by a reference derived from
the tenant, package, field and value (:meth:`Keyring.reference`), so storing the same value
twice is one row and two identical install requests carry identical params. The
ciphertext is bound to ``tenant/package/field/ref``: a row copied to another tenant or
field does not decrypt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import InstallationSecretRow
from fleetprompt_sdk.errors import NotFoundError

from .secrets import Keyring, token_key_id


def _context(tenant: str, package: str, field: str) -> str:
    return f"{tenant}/{package}/{field}"


def _aad(tenant: str, package: str, field: str, ref: str) -> str:
    return f"{_context(tenant, package, field)}/{ref}"


def reference(keyring: Keyring, tenant: str, package: str, field: str, value: str) -> str:
    """Return the reference the value ``value`` of ``package.field`` gets in ``tenant``."""
    return keyring.reference(_context(tenant, package, field), value)


def store_secrets(
    session: Session,
    keyring: Keyring,
    tenant: str,
    package: str,
    values: Mapping[str, str],
    refs: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Encrypt and store ``values`` (field -> plaintext); return field -> reference.

    ``refs`` gives the reference to store a field under (default: :func:`reference`). A
    reference already stored is left as it is.
    """
    out: dict[str, str] = {}
    for field, value in sorted(values.items()):
        ref = (refs or {}).get(field) or reference(keyring, tenant, package, field, value)
        out[field] = ref
        if session.get(InstallationSecretRow, ref) is not None:
            continue
        token = keyring.encrypt(value, _aad(tenant, package, field, ref))
        session.add(
            InstallationSecretRow(
                ref=ref,
                package=package,
                field=field,
                key_id=token_key_id(token),
                ciphertext=token,
            )
        )
    session.flush()
    return out


def read_secret(session: Session, keyring: Keyring, tenant: str, ref: str) -> str:
    """Return the plaintext stored under ``ref``; raise :class:`NotFoundError` if none."""
    row = session.get(InstallationSecretRow, ref)
    if row is None:
        raise NotFoundError(f"secret {ref} is not stored in tenant {tenant!r}", code="secret-gone")
    return keyring.decrypt(row.ciphertext, _aad(tenant, row.package, row.field, row.ref))


def read_secrets(
    session: Session, keyring: Keyring, tenant: str, refs: Mapping[str, str]
) -> dict[str, str]:
    """Return field -> plaintext for the references in ``refs`` (field -> reference)."""
    return {field: read_secret(session, keyring, tenant, ref) for field, ref in refs.items()}


def prune(session: Session, package: str, keep: Iterable[str] = ()) -> int:
    """Delete ``package``'s stored secrets except the references in ``keep``; return how many."""
    kept = set(keep)
    stmt = delete(InstallationSecretRow).where(InstallationSecretRow.package == package)
    if kept:
        stmt = stmt.where(InstallationSecretRow.ref.not_in(sorted(kept)))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def reencrypt(session: Session, keyring: Keyring, tenant: str, batch: int = 500) -> int:
    """Re-encrypt every secret of the tenant not made with the primary key; return the count."""
    primary = keyring.primary_id
    done = 0
    while True:
        rows = (
            session.execute(
                select(InstallationSecretRow)
                .where(InstallationSecretRow.key_id != primary)
                .order_by(InstallationSecretRow.ref)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return done
        for row in rows:
            aad = _aad(tenant, row.package, row.field, row.ref)
            row.ciphertext = keyring.encrypt(keyring.decrypt(row.ciphertext, aad), aad)
            row.key_id = primary
            row.updated_at = utcnow()
        session.flush()
        done += len(rows)


def key_usage(session: Session) -> dict[str, int]:
    """Return how many of the tenant's secrets each key id encrypted."""
    from sqlalchemy import func

    rows = session.execute(
        select(InstallationSecretRow.key_id, func.count()).group_by(InstallationSecretRow.key_id)
    ).all()
    return {str(kid): int(count) for kid, count in rows}


def resolve_installed_secret(session: Session, tenant: str, package: str, name: str) -> str | None:
    """Return the installed package's secret ``name`` decrypted, or None when unset.

    Installed as the engine's secret resolver, behind ``DirectiveContext.secret``.
    """
    from fleetprompt_host.storage.models import InstallationRow

    from .secrets import load_keyring

    refs = session.execute(
        select(InstallationRow.secret_refs).where(InstallationRow.package == package)
    ).scalar_one_or_none()
    ref = (refs or {}).get(name)
    if ref is None:
        return None
    return read_secret(session, load_keyring(), tenant, str(ref))
