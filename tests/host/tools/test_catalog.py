"""The tenant's tool list: installed, enabled, permitted, role and agent filtered."""

from __future__ import annotations

from types import ModuleType

import pytest

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.tools.catalog import ToolCatalog
from fleetprompt_host.tools.runtime import open_catalog
from fleetprompt_sdk.errors import NotFoundError, PermissionDeniedError


def _catalog(
    db: Database, registry: PackageRegistry, actor: str = "user:alice", **kw: str
) -> ToolCatalog:
    return open_catalog(db, registry, "acme", actor, **kw)


def test_tools_of_installed_packages_are_offered_namespaced_in_openai_format(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    catalog = _catalog(db, registry)

    tools = {t["function"]["name"]: t for t in catalog.openai_tools()}
    assert {"notes__search", "notes__add_note", "notes__purge_notes"} <= set(tools)
    search = tools["notes__search"]
    assert search["type"] == "function"
    assert search["function"]["description"].startswith("Find notes")
    assert search["function"]["parameters"]["required"] == ["query"]
    assert catalog.get("notes__add_note") is not None
    assert catalog.get("notes__add_note").effect.value == "write"  # type: ignore[union-attr]


def test_two_packages_can_both_offer_a_tool_named_search(
    db: Database, notes_pkg: ModuleType, tenant: str
) -> None:
    registry = notes_pkg.registry(memo_permissions=["records:read"])

    names = {t["function"]["name"] for t in _catalog(db, registry).openai_tools()}

    assert {"notes__search", "memo__search"} <= names


def test_a_package_without_the_needed_permission_has_its_tools_withheld(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    catalog = _catalog(db, registry)

    assert catalog.get("memo__search") is None
    assert "does not declare the records:read permission" in catalog.refusal("memo__search")


def test_a_member_is_not_offered_a_write_tool_whose_directive_needs_admin(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    bob = _catalog(db, registry, "user:bob")
    alice = _catalog(db, registry, "user:alice")

    assert bob.get("notes__purge_notes") is None
    assert "needs the admin role; the actor holds member" in bob.refusal("notes__purge_notes")
    assert bob.get("notes__add_note") is not None
    assert alice.get("notes__purge_notes") is not None


@pytest.mark.parametrize("status", ["disabled", "failed", "uninstalled"])
def test_a_package_that_is_not_active_offers_no_tools_and_says_why(
    db: Database, registry: PackageRegistry, notes_pkg: ModuleType, tenant: str, status: str
) -> None:
    notes_pkg.install(db, "acme", "notes", status=status)

    catalog = _catalog(db, registry)

    assert not [n for n in catalog.entries if n.startswith("notes__")]
    assert f"package 'notes' is {status} here" in catalog.refusal("notes__search")


def test_a_package_installed_at_another_version_than_the_code_offers_nothing(
    db: Database, registry: PackageRegistry, notes_pkg: ModuleType, tenant: str
) -> None:
    notes_pkg.install(db, "acme", "notes", version="0.9.0")

    catalog = _catalog(db, registry)

    assert catalog.get("notes__search") is None
    assert "version 0.9.0 is installed but this process has 1.0.0" in catalog.refusal(
        "notes__search"
    )


def test_an_agent_profile_allows_only_the_tools_it_lists(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    for name in ("reader", "notes/reader"):
        catalog = _catalog(db, registry, agent=name)
        assert sorted(catalog.entries) == ["notes__search", "notes__whoami"]
        assert "agent profile 'notes/reader' does not allow it" in catalog.refusal(
            "notes__add_note"
        )


def test_an_unknown_agent_profile_is_an_error_naming_the_known_ones(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    with pytest.raises(NotFoundError, match=r"known: notes/reader") as info:
        _catalog(db, registry, agent="writer")
    assert info.value.code == "agent-not-found"


def test_a_user_who_is_not_a_member_gets_no_tool_list(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        _catalog(db, registry, "user:mallory")
    assert info.value.code == "not-a-member"


def test_packages_installed_only_in_another_tenant_are_unknown_here(
    db: Database, registry: PackageRegistry, notes_pkg: ModuleType, tenant: str
) -> None:
    db.create_tenant("globex", actor="user:alice")
    notes_pkg.install(db, "globex", "memo")

    catalog = open_catalog(db, registry, "globex", "user:alice")

    assert not [n for n in catalog.entries if n.startswith("notes__")]
    assert catalog.refusal("notes__search") == (
        "no tool named 'notes__search' is available in this tenant"
    )


def test_fingerprints_change_when_a_tool_contract_changes(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    catalog = _catalog(db, registry)
    entry = catalog.entries["notes__search"]
    changed = entry.spec.model_copy(update={"description": "Something else."})

    assert len(entry.fingerprint) == 16
    other = type(entry)(entry.name, entry.package, changed, entry.tool, entry.required_role)
    assert other.fingerprint != entry.fingerprint


def test_a_role_granted_or_revoked_after_a_catalog_is_seen_by_the_next_one(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    from fleetprompt_host.storage.roles import add_member, remove_member

    assert _catalog(db, registry, "user:bob").get("notes__purge_notes") is None
    with db.tenant_session("acme") as session:
        add_member(session, "user:bob", "admin", by="user:alice")

    assert _catalog(db, registry, "user:bob").get("notes__purge_notes") is not None

    with db.tenant_session("acme") as session:
        remove_member(session, "user:bob", by="user:alice")
    with pytest.raises(PermissionDeniedError) as info:
        _catalog(db, registry, "user:bob")
    assert info.value.code == "not-a-member"


def test_a_package_disabled_after_a_catalog_is_built_is_withdrawn_from_the_next_one(
    db: Database, registry: PackageRegistry, notes_pkg: ModuleType, tenant: str
) -> None:
    assert _catalog(db, registry).get("notes__search") is not None

    notes_pkg.install(db, "acme", "notes", status="disabled")

    catalog = _catalog(db, registry)
    assert catalog.get("notes__search") is None
    assert "package 'notes' is disabled here" in catalog.refusal("notes__search")


def test_a_catalog_changed_by_its_caller_leaves_the_next_one_whole(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    first = _catalog(db, registry)
    first.entries.clear()
    first.withheld.clear()

    second = _catalog(db, registry)

    assert second.get("notes__search") is not None
    assert "does not declare" in second.refusal("memo__search")


def test_a_package_registered_anew_is_judged_by_its_new_manifest(
    db: Database, notes_pkg: ModuleType, tenant: str
) -> None:
    without = _catalog(db, notes_pkg.registry())
    with_permission = _catalog(db, notes_pkg.registry(memo_permissions=["records:read"]))
    again_without = _catalog(db, notes_pkg.registry())

    assert without.get("memo__search") is None
    assert with_permission.get("memo__search") is not None
    assert again_without.get("memo__search") is None
