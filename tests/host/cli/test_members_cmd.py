"""``fleetprompt members``: add, list, remove, with role checks."""

from __future__ import annotations

import pytest

from fleetprompt_host.testing.cli import Cli


@pytest.fixture
def fp(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``fleetprompt`` acting as alice, owner of tenant ``acme``."""
    cli = Cli(capsys, db_url)
    assert cli("tenants", "create", "acme").code == 0
    return cli


def test_add_list_remove_round_trip(fp: Cli) -> None:
    added = fp("members", "add", "bob", "--role", "admin", "--tenant", "acme")
    assert added.code == 0, added.err
    assert added.out.strip() == "added user:bob as admin in acme"
    listed = fp("members", "list", "--tenant", "acme", "--json").json()
    assert [(m["actor"], m["role"]) for m in listed] == [
        ("user:alice", "owner"),
        ("user:bob", "admin"),
    ]
    assert "user:bob" in fp("members", "list", "--tenant", "acme").out
    removed = fp("members", "remove", "bob", "--tenant", "acme")
    assert removed.code == 0, removed.err
    assert len(fp("members", "list", "--tenant", "acme", "--json").json()) == 1


def test_a_member_cannot_add_members(fp: Cli) -> None:
    fp("members", "add", "carol", "--tenant", "acme")
    refused = fp("members", "add", "dave", "--tenant", "acme", actor="user:carol")
    assert refused.code == 5
    assert refused.err.strip().endswith("[role-required]")


def test_an_unknown_tenant_is_not_found(fp: Cli) -> None:
    result = fp("members", "list", "--tenant", "nobody")
    assert result.code == 3
    assert "[tenant-not-found]" in result.err


def test_an_invalid_role_is_a_usage_error(fp: Cli) -> None:
    result = fp("members", "add", "bob", "--role", "root", "--tenant", "acme")
    assert result.code == 2
    assert "root" in result.err


def test_removing_the_last_owner_is_a_conflict(fp: Cli) -> None:
    result = fp("members", "remove", "alice", "--tenant", "acme")
    assert result.code == 4
    assert "[last-owner]" in result.err
