"""Roles: ``require_role`` for users, agents and system actors; member management rules."""

from __future__ import annotations

import pytest

from fleetprompt_host.storage import Database, add_member, list_members, remove_member, require_role
from fleetprompt_sdk.enums import Role
from fleetprompt_sdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)


@pytest.fixture
def acme(db: Database) -> Database:
    """Tenant ``acme`` owned by alice, with admin bob and member carol."""
    db.create_tenant("acme", actor="user:alice")
    with db.tenant_session("acme") as session:
        add_member(session, "bob", Role.ADMIN, by="user:alice")
        add_member(session, "user:carol", "member", by="user:bob")
    return db


@pytest.mark.parametrize(
    ("actor", "required", "allowed"),
    [
        ("user:alice", Role.OWNER, True),
        ("user:bob", Role.ADMIN, True),
        ("user:bob", Role.OWNER, False),
        ("user:carol", Role.MEMBER, True),
        ("user:carol", Role.ADMIN, False),
        ("user:mallory", Role.MEMBER, False),
        ("system:installer", Role.OWNER, True),
        ("agent:support", Role.MEMBER, False),
    ],
)
def test_require_role_follows_the_members_table(
    acme: Database, actor: str, required: Role, allowed: bool
) -> None:
    with acme.tenant_session("acme", readonly=True) as session:
        if allowed:
            require_role(session, actor, required)
        else:
            with pytest.raises(PermissionDeniedError) as info:
                require_role(session, actor, required)
            assert info.value.code == "role-required"
            assert required.value in info.value.message


def test_an_agent_acts_with_the_role_of_the_user_it_acts_for(acme: Database) -> None:
    with acme.tenant_session("acme", readonly=True) as session:
        assert require_role(session, "agent:support", Role.ADMIN, on_behalf_of="user:bob") == (
            Role.ADMIN
        )
        with pytest.raises(PermissionDeniedError, match="acting for user:carol"):
            require_role(session, "agent:support", Role.ADMIN, on_behalf_of="user:carol")
        with pytest.raises(PermissionDeniedError, match="only for a user"):
            require_role(session, "agent:support", Role.MEMBER, on_behalf_of="system:x")


def test_an_agent_granted_membership_itself_has_that_role(acme: Database) -> None:
    with acme.tenant_session("acme") as session:
        add_member(session, "agent:support", Role.MEMBER, by="user:bob")
        assert require_role(session, "agent:support", Role.MEMBER) == Role.MEMBER


def test_members_are_listed_owners_first(acme: Database) -> None:
    with acme.tenant_session("acme", readonly=True) as session:
        members = [(m.actor, m.role) for m in list_members(session)]
    assert members == [
        ("user:alice", Role.OWNER),
        ("user:bob", Role.ADMIN),
        ("user:carol", Role.MEMBER),
    ]


def test_admins_cannot_grant_or_take_ownership(acme: Database) -> None:
    with pytest.raises(PermissionDeniedError), acme.tenant_session("acme") as session:
        add_member(session, "carol", Role.OWNER, by="user:bob")
    with pytest.raises(PermissionDeniedError), acme.tenant_session("acme") as session:
        remove_member(session, "alice", by="user:bob")


def test_members_cannot_manage_members(acme: Database) -> None:
    with pytest.raises(PermissionDeniedError), acme.tenant_session("acme") as session:
        add_member(session, "dave", Role.MEMBER, by="user:carol")


def test_the_last_owner_cannot_be_removed_or_demoted(acme: Database) -> None:
    with pytest.raises(ConflictError) as info, acme.tenant_session("acme") as session:
        remove_member(session, "alice", by="user:alice")
    assert info.value.code == "last-owner"
    with pytest.raises(ConflictError), acme.tenant_session("acme") as session:
        add_member(session, "alice", Role.ADMIN, by="user:alice")
    with acme.tenant_session("acme") as session:
        add_member(session, "bob", Role.OWNER, by="user:alice")
        remove_member(session, "alice", by="user:bob")
    with acme.tenant_session("acme", readonly=True) as session:
        assert [m.actor for m in list_members(session) if m.role is Role.OWNER] == ["user:bob"]


def test_changing_a_role_updates_the_existing_member(acme: Database) -> None:
    with acme.tenant_session("acme") as session:
        _, created = add_member(session, "carol", Role.ADMIN, by="user:bob")
    assert created is False
    with acme.tenant_session("acme", readonly=True) as session:
        assert require_role(session, "user:carol", Role.ADMIN) == Role.ADMIN


@pytest.mark.parametrize(
    ("member", "role", "code"),
    [
        ("system:x", "member", "invalid-member"),
        ("user:", "member", "invalid-actor"),
        ("robot:x", "member", "invalid-actor"),
        ("dave", "superuser", "invalid-role"),
    ],
)
def test_bad_member_input_is_refused(acme: Database, member: str, role: str, code: str) -> None:
    with pytest.raises(InvalidInputError) as info, acme.tenant_session("acme") as session:
        add_member(session, member, role, by="user:alice")
    assert info.value.code == code


def test_removing_a_non_member_is_not_found(acme: Database) -> None:
    with pytest.raises(NotFoundError) as info, acme.tenant_session("acme") as session:
        remove_member(session, "nobody", by="user:alice")
    assert info.value.code == "member-not-found"
