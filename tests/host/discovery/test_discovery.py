"""Discovery of real installed distributions: good packages load, broken ones are explained."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleetprompt_host.discovery import GROUP, discover, enabled_from_env, scan
from fleetprompt_host.registry import BrokenPackage, LoadedPackage
from fleetprompt_sdk.enums import Effect
from fleetprompt_sdk.errors import NotFoundError, PackageError

BROKEN = [
    ("discimportfail", "import-failed", "RuntimeError: fpdisc_importfail refuses to import"),
    ("discbadmanifest", "manifest-invalid", "tools[0].description"),
    ("dischookraises", "hook-failed", "fleetprompt_tools raised RuntimeError: the tool table"),
    ("discnotplugin", "not-a-plugin", "implements no fleetprompt hook"),
    ("discmismatch", "tool-undeclared", "tool 'secret_tool' is not declared in the manifest"),
    ("discnomanifest", "manifest-not-found", "ships no fleetprompt.json"),
]


def test_good_package_is_loaded_with_identity_tools_and_handlers(installed_site: Path) -> None:
    registry = discover(path=[installed_site])

    package = registry.get("discgood")

    assert isinstance(package, LoadedPackage)
    assert (package.name, package.version) == ("discgood", "1.0.0")
    assert (package.distribution, package.distribution_version) == ("fpdisc-good", "1.0.0")
    assert package.entry_point == "discgood"
    assert package.origin.target == "fpdisc_good:package"
    assert sorted(package.tools) == ["create_note", "lookup_note"]
    assert package.tools["create_note"].effect is Effect.WRITE
    assert list(package.signal_handlers) == ["remember_ticket"]
    assert list(package.directive_handlers) == ["discgood.note.create"]
    assert registry.plugin_manager.get_plugin("discgood") is package.plugin


@pytest.mark.parametrize(("name", "code", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_package_is_reported_with_its_reason_and_the_good_one_still_loads(
    installed_site: Path, name: str, code: str, reason: str
) -> None:
    registry = discover(path=[installed_site])

    broken = [b for b in registry.broken if b.name == name]

    assert len(broken) == 1, registry.broken
    assert broken[0].code == code
    assert reason in broken[0].reason
    assert "\n" not in broken[0].reason
    assert broken[0].origin.distribution == name.replace("disc", "fpdisc-")
    assert name not in registry.packages
    assert registry.plugin_manager.get_plugin(name) is None
    assert "discgood" in registry.packages


def test_two_distributions_claiming_one_name_are_both_refused_and_never_imported(
    installed_site: Path, imported: Callable[[], list[str]]
) -> None:
    registry = discover(path=[installed_site])

    twins = [b for b in registry.broken if b.name == "disctwin"]

    assert sorted(b.origin.distribution or "" for b in twins) == ["fpdisc-twin-a", "fpdisc-twin-b"]
    assert {b.code for b in twins} == {"name-conflict"}
    assert all("fpdisc-twin-a" in b.reason and "fpdisc-twin-b" in b.reason for b in twins)
    assert not [m for m in imported() if m.startswith("fpdisc_twin")]


def test_manifests_are_read_without_importing_any_package(
    installed_site: Path, imported: Callable[[], list[str]]
) -> None:
    assert imported() == []

    registry = discover(path=[installed_site])

    assert registry.names() == [
        "discgood",
        "dischookraises",
        "discimportfail",
        "discmismatch",
        "discnotplugin",
    ]
    assert imported() == []


def test_a_package_is_imported_on_first_use_and_only_that_package(
    installed_site: Path, imported: Callable[[], list[str]]
) -> None:
    registry = discover(path=[installed_site])

    registry.get("discgood")

    assert imported() == ["fpdisc_good"]


def test_a_package_with_an_invalid_manifest_is_never_imported(
    installed_site: Path, imported: Callable[[], list[str]]
) -> None:
    registry = discover(path=[installed_site])
    registry.load_all()

    assert "fpdisc_badmanifest" not in imported()
    broken = next(b for b in registry.broken if b.name == "discbadmanifest")
    assert {p.path for p in broken.problems} >= {"tools[0].description"}


def test_get_explains_why_a_package_is_unavailable(installed_site: Path) -> None:
    registry = discover(path=[installed_site], enabled={"discgood", "discimportfail"})

    with pytest.raises(PackageError, match="refuses to import") as broken:
        registry.get("discimportfail")
    with pytest.raises(NotFoundError) as disabled:
        registry.get("dischookraises")
    with pytest.raises(NotFoundError) as unknown:
        registry.get("nosuchpackage")

    assert broken.value.code == "package-broken"
    assert disabled.value.code == "package-disabled"
    assert unknown.value.code == "package-not-found"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", frozenset()),
        (" , ", frozenset()),
        ("crm,helpdesk", frozenset({"crm", "helpdesk"})),
        (" CRM , helpdesk,,", frozenset({"crm", "helpdesk"})),
    ],
)
def test_fleetprompt_packages_is_parsed_as_a_comma_separated_list(
    value: str | None, expected: frozenset[str] | None
) -> None:
    environ = {} if value is None else {"FLEETPROMPT_PACKAGES": value}

    assert enabled_from_env(environ) == expected


def test_fleetprompt_packages_leaves_the_others_out_without_importing_them(
    installed_site: Path, monkeypatch: pytest.MonkeyPatch, imported: Callable[[], list[str]]
) -> None:
    monkeypatch.setenv("FLEETPROMPT_PACKAGES", "discgood,nosuchpackage")

    registry = discover(path=[installed_site])

    assert list(registry.packages) == ["discgood"]
    assert registry.broken == []
    disabled = {d.name for d in registry.disabled}
    assert disabled >= {"discimportfail", "dischookraises", "disctwin", "discbadmanifest"}
    assert registry.not_found == ("nosuchpackage",)
    assert imported() == ["fpdisc_good"]
    statuses = {(s.name, s.status) for s in registry.statuses()}
    assert ("discimportfail", "disabled") in statuses
    assert ("discgood", "ok") in statuses


def test_an_empty_fleetprompt_packages_loads_nothing(
    installed_site: Path, monkeypatch: pytest.MonkeyPatch, imported: Callable[[], list[str]]
) -> None:
    monkeypatch.setenv("FLEETPROMPT_PACKAGES", "")

    registry = discover(path=[installed_site])

    assert registry.packages == {}
    assert registry.broken == []
    assert len(registry.disabled) == 9
    assert imported() == []
    assert registry.plugin_manager.get_plugins() == set()


def test_a_disabled_package_manifest_is_still_readable_for_show(installed_site: Path) -> None:
    registry = discover(path=[installed_site], enabled=[])

    disabled = next(d for d in registry.disabled if d.name == "discgood")

    assert disabled.version == "1.0.0"
    assert disabled.read_manifest is not None
    assert disabled.read_manifest().tool("create_note") is not None


def test_a_distribution_installed_twice_on_the_path_counts_once(installed_site: Path) -> None:
    found = scan([installed_site, installed_site])

    names = [f.origin.entry_point for f in found]

    assert len(names) == len(set(names)) == 9
    assert all(f.entry_point.group == GROUP for f in found)


def test_discovery_with_an_explicit_path_makes_the_directory_importable(
    installed_site: Path,
) -> None:
    assert str(installed_site) not in sys.path

    discover(path=[installed_site]).get("discgood")

    assert str(installed_site) in sys.path


def test_directive_handler_lookup_finds_the_owning_package(installed_site: Path) -> None:
    registry = discover(path=[installed_site])

    owner = registry.directive_handler("discgood.note.create")

    assert owner is not None
    assert owner[0].name == "discgood"
    assert registry.directive_handler("nobody.handles.this") is None


def test_broken_entries_carry_the_manifest_when_it_was_valid(installed_site: Path) -> None:
    registry = discover(path=[installed_site])

    entries = {b.name: b for b in registry.broken}

    assert isinstance(entries["dischookraises"], BrokenPackage)
    assert entries["dischookraises"].manifest is not None
    assert entries["discbadmanifest"].manifest is None


def _statuses_by_name(registry: Any) -> dict[str, str]:
    return {s.name: s.status for s in registry.statuses()}


def test_statuses_list_every_discovered_package_once_per_distribution(
    installed_site: Path,
) -> None:
    registry = discover(path=[installed_site])

    rows = registry.statuses()

    assert len(rows) == 9
    assert _statuses_by_name(registry) == {
        "discbadmanifest": "broken",
        "discgood": "ok",
        "dischookraises": "broken",
        "discimportfail": "broken",
        "discmismatch": "broken",
        "discnomanifest": "broken",
        "discnotplugin": "broken",
        "disctwin": "broken",
    }
