"""Programmatic registration and lifecycle hooks that reach exactly one package."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fleetprompt_host.discovery import discover
from fleetprompt_host.registry import Candidate, Origin, PackageRegistry
from fleetprompt_sdk import Package, hookimpl
from fleetprompt_sdk.errors import ConflictError, ManifestError, NotFoundError, PackageError
from fleetprompt_sdk.manifest import Manifest


@dataclass
class RecordingContext:
    """Stands in for the host's InstallContext: the fixture hooks append to ``calls``."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)


def _manifest(name: str, **extra: Any) -> Manifest:
    return Manifest.model_validate(
        {"name": name, "version": "1.0.0", "display_name": name.title(), **extra}
    )


def _recording_package(name: str) -> Package:
    package = Package(name)

    @package.on_install
    def install(ctx: Any) -> None:
        ctx.calls.append(("install", name))

    @package.on_upgrade
    def upgrade(ctx: Any, from_version: str, to_version: str) -> None:
        ctx.calls.append(("upgrade", name, from_version, to_version))

    @package.on_uninstall
    def uninstall(ctx: Any, purge: bool) -> None:
        ctx.calls.append(("uninstall", name, purge))

    return package


@pytest.fixture
def registry() -> PackageRegistry:
    """A registry holding two packages, alpha and beta, that record their lifecycle calls."""
    registry = PackageRegistry()
    for name in ("alpha", "beta"):
        registry.register(_recording_package(name), _manifest(name))
    return registry


def test_lifecycle_hooks_run_on_the_named_package_only(registry: PackageRegistry) -> None:
    ctx = RecordingContext()

    registry.call_install("alpha", ctx)  # type: ignore[arg-type]
    registry.call_upgrade("beta", ctx, "1.0.0", "2.0.0")  # type: ignore[arg-type]
    registry.call_uninstall("alpha", ctx, True)  # type: ignore[arg-type]

    assert ctx.calls == [
        ("install", "alpha"),
        ("upgrade", "beta", "1.0.0", "2.0.0"),
        ("uninstall", "alpha", True),
    ]


def test_an_exception_from_a_lifecycle_hook_reaches_the_caller_unchanged() -> None:
    package = Package("fails")

    @package.on_install
    def install(ctx: Any) -> None:
        raise ValueError("cannot provision")

    registry = PackageRegistry()
    registry.register(package, _manifest("fails"))

    with pytest.raises(ValueError, match="cannot provision"):
        registry.call_install("fails", RecordingContext())  # type: ignore[arg-type]


def test_a_hook_implemented_under_another_name_is_called_for_its_package() -> None:
    class Plugin:
        @hookimpl(specname="fleetprompt_install")
        def provision(self, ctx: Any) -> None:
            ctx.calls.append(("provision",))

    registry = PackageRegistry()
    registry.register(Plugin(), _manifest("renamed"))
    registry.register(_recording_package("other"), _manifest("other"))
    ctx = RecordingContext()

    registry.call_install("renamed", ctx)  # type: ignore[arg-type]

    assert ctx.calls == [("provision",)]


def test_lifecycle_calls_on_an_unknown_package_are_not_found(registry: PackageRegistry) -> None:
    with pytest.raises(NotFoundError, match="'gamma'"):
        registry.call_install("gamma", RecordingContext())  # type: ignore[arg-type]


def test_registering_a_taken_name_is_a_conflict_and_keeps_the_first(
    registry: PackageRegistry,
) -> None:
    first = registry.get("alpha").plugin

    with pytest.raises(ConflictError) as info:
        registry.register(_recording_package("alpha"), _manifest("alpha"))

    assert info.value.code == "name-conflict"
    assert registry.get("alpha").plugin is first


def test_registering_code_that_disagrees_with_its_manifest_fails_and_leaves_no_trace() -> None:
    package = Package("strict")

    @package.tool
    def undeclared(ctx: Any) -> str:
        """Not in the manifest."""
        return ""

    registry = PackageRegistry()

    with pytest.raises(PackageError) as info:
        registry.register(package, _manifest("strict"))

    assert info.value.code == "tool-undeclared"
    assert [p.code for p in info.value.problems] == ["tool-undeclared"]  # type: ignore[attr-defined]
    assert registry.plugin_manager.get_plugin("strict") is None
    assert registry.names() == []
    registry.register(Package("strict"), _manifest("strict"))
    assert registry.names() == ["strict"]


def test_a_manifest_can_be_given_as_a_file_or_a_package_directory(tmp_path: Path) -> None:
    directory = tmp_path / "src" / "fromdisk"
    directory.mkdir(parents=True)
    manifest_file = directory / "fleetprompt.json"
    manifest_file.write_text(
        json.dumps({"name": "fromdisk", "version": "2.1", "display_name": "D"})
    )
    registry = PackageRegistry()

    loaded = registry.register(Package("fromdisk"), manifest_file)
    other = PackageRegistry().register(Package("fromdisk"), str(tmp_path / "src"))

    assert (loaded.name, loaded.version, loaded.distribution) == ("fromdisk", "2.1", None)
    assert other.manifest == loaded.manifest
    assert registry.statuses()[0].to_dict()["status"] == "ok"


def test_an_invalid_manifest_file_is_refused_with_its_problems(tmp_path: Path) -> None:
    manifest_file = tmp_path / "fleetprompt.json"
    manifest_file.write_text(json.dumps({"name": "Not A Slug", "version": "1"}))

    with pytest.raises(ManifestError) as info:
        PackageRegistry().register(Package("x"), manifest_file)

    assert {p.path for p in info.value.problems} >= {"name", "display_name"}


def test_a_registered_package_cannot_take_the_name_of_a_discovered_one(
    installed_site: Path,
) -> None:
    registry = discover(path=[installed_site])

    with pytest.raises(ConflictError):
        registry.register(Package("discgood"), _manifest("discgood"))


def test_concurrent_first_use_imports_and_registers_a_package_once(installed_site: Path) -> None:
    registry = discover(path=[installed_site])
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        results.append(registry.get("discgood"))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8
    assert all(result is results[0] for result in results)
    assert "discgood" not in {b.name for b in registry.broken}


def test_the_discovered_package_lifecycle_hooks_are_called(installed_site: Path) -> None:
    registry = discover(path=[installed_site])
    ctx = RecordingContext()

    registry.call_install("discgood", ctx)  # type: ignore[arg-type]
    registry.call_uninstall("discgood", ctx, False)  # type: ignore[arg-type]

    assert ctx.calls == [("install", "discgood"), ("uninstall", "discgood", False)]


def test_a_plugin_object_that_trips_the_plugin_manager_is_reported_not_raised() -> None:
    class Hostile:
        @hookimpl
        def fleetprompt_tools(self) -> list[Any]:
            return []

        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no comparisons, please")

        __hash__ = object.__hash__

    registry = PackageRegistry()
    registry.defer(Candidate(_manifest("hostile"), Origin(), load=Hostile))
    registry.register(_recording_package("calm"), _manifest("calm"))

    broken = registry.broken

    assert [(b.name, b.code) for b in broken] == [("hostile", "load-failed")]
    assert "no comparisons, please" in broken[0].reason
    assert list(registry.packages) == ["calm"]
    assert registry.plugin_manager.get_plugin("hostile") is None
