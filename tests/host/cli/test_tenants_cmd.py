"""``fleetprompt tenants``: create, list, show, delete, on both backends."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from fleetprompt_host.testing.cli import Cli


@pytest.fixture
def fp(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``fleetprompt --db URL ...`` as ``user:alice``."""
    return Cli(capsys, db_url)


def test_create_list_show_delete_round_trip(fp: Cli) -> None:
    created = fp("tenants", "create", "acme", "--name", "Acme Inc.")
    assert created.code == 0, created.err
    assert "created tenant acme (Acme Inc.)" in created.out
    listed = fp("tenants", "list", "--json")
    assert listed.code == 0
    assert [(t["slug"], t["display_name"]) for t in listed.json()] == [("acme", "Acme Inc.")]
    shown = fp("tenants", "show", "acme", "--json").json()
    assert shown["schema_name"] == "org_acme"
    assert shown["created_by"] == "user:alice"
    assert "db_password" not in shown and "db_role" not in shown
    assert "acme" in fp("tenants", "list").out
    deleted = fp("tenants", "delete", "acme", "--yes")
    assert deleted.code == 0, deleted.err
    assert fp("tenants", "list", "--json").json() == []


def test_creating_an_existing_tenant_exits_4_with_one_line(fp: Cli) -> None:
    assert fp("tenants", "create", "acme").code == 0
    again = fp("tenants", "create", "acme")
    assert again.code == 4
    assert again.err == "error: tenant 'acme' already exists [tenant-exists]\n"


@pytest.mark.parametrize("slug", ["Acme", "acme;drop", "x", "public", "\u0430cme"])
def test_invalid_slug_exits_2_and_creates_nothing(fp: Cli, slug: str) -> None:
    result = fp("tenants", "create", slug)
    assert result.code == 2
    assert result.err.startswith("error: invalid tenant slug") and result.err.endswith(
        "[invalid-slug]\n"
    )
    assert result.err.count("\n") == 1
    assert fp("tenants", "list", "--json").json() == []


def test_show_unknown_tenant_exits_3(fp: Cli) -> None:
    result = fp("tenants", "show", "nobody")
    assert result.code == 3
    assert "[tenant-not-found]" in result.err


def test_delete_without_yes_is_refused_when_not_interactive(fp: Cli) -> None:
    fp("tenants", "create", "acme")
    result = fp("tenants", "delete", "acme")
    assert result.code == 2
    assert "--yes" in result.err
    assert [t["slug"] for t in fp("tenants", "list", "--json").json()] == ["acme"]


def test_delete_needs_the_owner_role(fp: Cli) -> None:
    fp("tenants", "create", "acme")
    fp("members", "add", "bob", "--role", "admin", "--tenant", "acme")
    refused = fp("tenants", "delete", "acme", "--yes", actor="user:bob")
    assert refused.code == 5
    assert "[role-required]" in refused.err
    assert fp("tenants", "delete", "acme", "--yes", actor="system:ops").code == 0


def test_invalid_actor_is_a_clear_error(fp: Cli) -> None:
    result = fp("tenants", "create", "acme", actor="robot")
    assert result.code == 2
    assert "[invalid-actor]" in result.err


@pytest.mark.parametrize(("answer", "deleted"), [("y", True), ("n", False)])
def test_delete_without_yes_asks_when_interactive(
    db_url: str, capsys: pytest.CaptureFixture[str], answer: str, deleted: bool
) -> None:
    Cli(capsys, db_url)("tenants", "create", "acme")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_host", "--db", db_url, "tenants", "delete", "acme"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "FLEETPROMPT_ACTOR": "user:alice"},
    )
    os.close(follower)
    seen = b""
    while b"delete tenant 'acme'" not in seen:
        chunk = os.read(leader, 1024)
        assert chunk, "the prompt never appeared"
        seen += chunk
    os.write(leader, answer.encode() + b"\n")
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == (0 if deleted else 130)
    remaining = Cli(capsys, db_url)("tenants", "list", "--json").json()
    assert (remaining == []) is deleted
