"""Requirements, host compatibility and dependency order, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.installations.requirements import (
    Present,
    available,
    check_host_compatible,
    dependents,
    missing_dependencies,
    parse_requirement,
)
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_sdk.errors import ConflictError, InvalidInputError, NotFoundError
from fleetprompt_sdk.manifest import Manifest


def _manifest(name: str, version: str = "1.0.0", **extra: Any) -> Manifest:
    return Manifest.model_validate(
        {"name": name, "version": version, "display_name": name.title(), **extra}
    )


@pytest.mark.parametrize(
    ("text", "name", "spec"),
    [("crm", "crm", ""), ("helpdesk==2.0", "helpdesk", "==2.0"), ("crm >=1,<2", "crm", "<2,>=1")],
)
def test_requirements_parse_into_name_and_specifier(text: str, name: str, spec: str) -> None:
    requirement = parse_requirement(text)
    assert (requirement.name, str(requirement.specifier)) == (name, spec)


@pytest.mark.parametrize("text", ["", "CRM", "crm==", "crm=>1", "crm;drop", "c"])
def test_malformed_requirements_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_requirement(text)
    assert caught.value.code == "invalid-requirement"


def test_the_version_the_host_has_must_satisfy_the_requirement(registry: PackageRegistry) -> None:
    assert available(registry, parse_requirement("helpdesk==2.0")).version == "2.0.0"
    with pytest.raises(NotFoundError) as caught:
        available(registry, parse_requirement("helpdesk==3.0"))
    assert caught.value.code == "version-unavailable"
    assert "this host has helpdesk 2.0.0" in caught.value.message
    with pytest.raises(NotFoundError) as unknown:
        available(registry, parse_requirement("nosuchpkg"))
    assert unknown.value.code == "package-not-found"


@pytest.mark.parametrize(
    ("spec", "ok"), [("", True), (">=0.1", True), (">=0.1,<1", True), (">=9", False)]
)
def test_host_compatibility_follows_requires_fleetprompt(spec: str, ok: bool) -> None:
    manifest = _manifest("shop", requires_fleetprompt=spec)
    if ok:
        check_host_compatible(manifest, "0.1.0")
        return
    with pytest.raises(ConflictError) as caught:
        check_host_compatible(manifest, "0.1.0")
    assert caught.value.code == "incompatible-host"
    assert ">=9" in caught.value.message and "0.1.0" in caught.value.message


def _registry(*manifests: Manifest) -> PackageRegistry:
    from fleetprompt_sdk import Package

    registry = PackageRegistry()
    for manifest in manifests:
        registry.register(Package(manifest.name), manifest)
    return registry


def _dep(name: str, version: str = "") -> dict[str, str]:
    return {"name": name, "version": version}


def test_missing_dependencies_come_transitively_in_install_order() -> None:
    base = _manifest("base")
    middle = _manifest("middle", dependencies=[_dep("base")])
    side = _manifest("side")
    top = _manifest("top", dependencies=[_dep("middle"), _dep("side"), _dep("base")])
    registry = _registry(base, middle, side, top)

    order = missing_dependencies(registry, top, {})
    assert [p.name for p in order] == ["base", "middle", "side"]

    present = {"base": Present("1.0.0", "installed"), "side": Present("1.0.0", "disabled")}
    assert [p.name for p in missing_dependencies(registry, top, present)] == ["middle"]


def test_dependency_problems_are_named() -> None:
    base = _manifest("base", version="1.0.0")
    wants_new = _manifest("wants", dependencies=[_dep("base", ">=2")])
    registry = _registry(base, wants_new)

    with pytest.raises(ConflictError) as installed_too_old:
        missing_dependencies(registry, wants_new, {"base": Present("1.0.0", "installed")})
    assert installed_too_old.value.code == "dependency-version"

    with pytest.raises(NotFoundError) as unavailable:
        missing_dependencies(registry, wants_new, {})
    assert unavailable.value.code == "dependency-unavailable"
    assert "base>=2" in unavailable.value.message

    a = _manifest("aaa", dependencies=[_dep("bbb")])
    b = _manifest("bbb", dependencies=[_dep("aaa")])
    with pytest.raises(ConflictError) as cycle:
        missing_dependencies(_registry(a, b), a, {})
    assert cycle.value.code == "dependency-cycle"
    assert "aaa -> bbb -> aaa" in cycle.value.message


def test_dependents_come_in_removal_order() -> None:
    manifests = {
        "base": _manifest("base"),
        "middle": _manifest("middle", dependencies=[_dep("base")]),
        "top": _manifest("top", dependencies=[_dep("middle")]),
        "other": _manifest("other"),
    }
    assert dependents(manifests, "base") == ["top", "middle"]
    assert dependents(manifests, "other") == []
