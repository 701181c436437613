"""Members, roles and the one role check every layer uses: :func:`require_role`.

Rules (docs/tenants.md):

- ``system:*`` actors are the host itself (installer, workers, CLI maintenance) and are
  trusted: they pass every role check.
- ``user:*`` actors hold the role recorded for them in the tenant's ``members`` table.
- ``agent:*`` actors act for a user: pass that user as ``on_behalf_of`` and the agent gets
  the user's role (never more). An agent acting for nobody has only the role it was
  granted itself as a member (``fleetprompt members add agent:NAME``), if any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fleetprompt_sdk.enums import Role
from fleetprompt_sdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from fleetprompt_sdk.models import Actor

from .models.members import MemberRow


@dataclass(frozen=True)
class MemberInfo:
    """One member of a tenant."""

    actor: str
    role: Role
    added_by: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "actor": self.actor,
            "role": self.role.value,
            "added_by": self.added_by,
            "created_at": self.created_at.isoformat(),
        }


def as_actor(actor: Actor | str) -> Actor:
    """Parse ``actor``; a bare name means a user (``alice`` -> ``user:alice``)."""
    if isinstance(actor, Actor):
        return actor
    return Actor.parse(actor if ":" in actor else f"user:{actor}")


def as_role(role: Role | str) -> Role:
    """Parse a role name; raise :class:`InvalidInputError` (``invalid-role``)."""
    try:
        return role if isinstance(role, Role) else Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInputError(
            f"invalid role {role!r}: expected one of {names}", code="invalid-role"
        ) from None


def member_role(session: Session, actor: Actor | str) -> Role | None:
    """Return the role ``actor`` holds in the session's tenant, or None."""
    found = session.execute(
        select(MemberRow.role).where(MemberRow.actor == str(as_actor(actor)))
    ).scalar_one_or_none()
    return None if found is None else Role(found)


def require_role(
    session: Session,
    actor: Actor | str,
    required: Role,
    *,
    on_behalf_of: Actor | str | None = None,
) -> Role | None:
    """Return the actor's effective role, or raise :class:`PermissionDeniedError`.

    See the module doc for how system, user and agent actors are treated. Returns None for
    system actors (trusted without a role).
    """
    who = as_actor(actor)
    if who.kind == "system":
        return None
    role: Role | None
    if who.kind == "agent" and on_behalf_of is not None:
        principal = as_actor(on_behalf_of)
        if principal.kind != "user":
            raise PermissionDeniedError(
                f"{who} can act only for a user, not for {principal}", code="role-required"
            )
        role = member_role(session, principal)
        subject = f"{who} acting for {principal}"
    else:
        role = member_role(session, who)
        subject = str(who)
    if role is None or not role.satisfies(required):
        held = f"holds {role.value}" if role else "is not a member"
        raise PermissionDeniedError(
            f"{subject} {held}; this needs {required.value} or higher", code="role-required"
        )
    return role


def list_members(session: Session) -> list[MemberInfo]:
    """Return the tenant's members, owners first."""
    rows = session.execute(select(MemberRow)).scalars().all()
    infos = [MemberInfo(r.actor, Role(r.role), r.added_by, r.created_at) for r in rows]
    return sorted(infos, key=lambda m: (-m.role.rank, m.actor))


def add_member(
    session: Session, actor: Actor | str, role: Role | str, *, by: Actor | str
) -> tuple[MemberInfo, bool]:
    """Give ``actor`` ``role`` in the tenant (adding or changing it); return (member, created).

    Needs admin; granting or taking away owner needs owner. System actors cannot be
    members (they are trusted already).
    """
    who, new_role, by_actor = as_actor(actor), as_role(role), as_actor(by)
    if who.kind == "system":
        raise InvalidInputError(
            f"{who} is a system actor: it is trusted and cannot be a member",
            code="invalid-member",
        )
    existing = session.execute(
        select(MemberRow).where(MemberRow.actor == str(who))
    ).scalar_one_or_none()
    touches_owner = new_role is Role.OWNER or (existing is not None and existing.role == "owner")
    require_role(session, by_actor, Role.OWNER if touches_owner else Role.ADMIN)
    if existing is None:
        row = MemberRow(actor=str(who), role=new_role.value, added_by=str(by_actor))
        session.add(row)
        session.flush()
        return MemberInfo(row.actor, new_role, row.added_by, row.created_at), True
    if existing.role == "owner" and new_role is not Role.OWNER:
        _refuse_last_owner(session, str(who))
    existing.role = new_role.value
    session.flush()
    return MemberInfo(existing.actor, new_role, existing.added_by, existing.created_at), False


def remove_member(session: Session, actor: Actor | str, *, by: Actor | str) -> None:
    """Remove ``actor`` from the tenant. Needs admin (owner to remove an owner)."""
    who, by_actor = as_actor(actor), as_actor(by)
    existing = session.execute(
        select(MemberRow).where(MemberRow.actor == str(who))
    ).scalar_one_or_none()
    if existing is None:
        raise NotFoundError(f"{who} is not a member of this tenant", code="member-not-found")
    require_role(session, by_actor, Role.OWNER if existing.role == "owner" else Role.ADMIN)
    if existing.role == "owner":
        _refuse_last_owner(session, str(who))
    session.execute(delete(MemberRow).where(MemberRow.id == existing.id))


def _refuse_last_owner(session: Session, actor: str) -> None:
    owners = session.execute(
        select(func.count()).select_from(MemberRow).where(MemberRow.role == "owner")
    ).scalar_one()
    if owners <= 1:
        raise ConflictError(
            f"{actor} is the tenant's last owner: add another owner first", code="last-owner"
        )
