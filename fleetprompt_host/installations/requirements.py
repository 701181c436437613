"""What may be installed: requirement parsing, host compatibility and dependency order.

A requirement is ``NAME`` or ``NAME<specifier>`` (``helpdesk==2.0``, ``crm>=1,<2``). The
host offers one version of each package (the installed distribution); a requirement it
cannot satisfy is an error naming the version it has. A package whose
``requires_fleetprompt`` excludes this host's version is refused before anything is
written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from fleetprompt_host import __version__ as HOST_VERSION
from fleetprompt_host.registry import LoadedPackage, PackageRegistry
from fleetprompt_sdk.errors import ConflictError, InvalidInputError, NotFoundError
from fleetprompt_sdk.manifest import Manifest

_REQUIREMENT = re.compile(r"^\s*([a-z][a-z0-9_]{1,39})\s*(.*?)\s*$")
#: Installation statuses in which a package counts as present for its dependents.
PRESENT = ("installed", "disabled")


@dataclass(frozen=True)
class Requirement:
    """A package name and the versions acceptable for it."""

    name: str
    specifier: SpecifierSet

    def __str__(self) -> str:
        return f"{self.name}{self.specifier}"

    def allows(self, version: str) -> bool:
        """Return True when ``version`` satisfies the specifier (pre-releases included)."""
        try:
            return self.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False


def parse_requirement(text: str) -> Requirement:
    """Parse ``NAME[SPECIFIER]``; raise :class:`InvalidInputError` (``invalid-requirement``)."""
    match = _REQUIREMENT.match(text)
    if match is None:
        raise InvalidInputError(
            f"invalid package {text!r}: expected NAME or NAME==VERSION (e.g. helpdesk==2.0)",
            code="invalid-requirement",
        )
    name, rest = match.group(1), match.group(2)
    try:
        spec = SpecifierSet(rest)
    except InvalidSpecifier:
        raise InvalidInputError(
            f"invalid version specifier {rest!r} in {text!r} (e.g. ==2.0 or >=1,<2)",
            code="invalid-requirement",
        ) from None
    return Requirement(name, spec)


def check_host_compatible(manifest: Manifest, host_version: str = HOST_VERSION) -> None:
    """Raise :class:`ConflictError` (``incompatible-host``) unless this host may run it."""
    wanted = manifest.requires_fleetprompt.strip()
    if not wanted:
        return
    if not SpecifierSet(wanted).contains(host_version, prereleases=True):
        raise ConflictError(
            f"{manifest.name} {manifest.version} requires FleetPrompt {wanted}; "
            f"this host is {host_version}",
            code="incompatible-host",
        )


def available(
    registry: PackageRegistry, requirement: Requirement, host_version: str = HOST_VERSION
) -> LoadedPackage:
    """Return the package that satisfies ``requirement`` here, checked for compatibility.

    Raises :class:`NotFoundError` (``package-not-found``, ``version-unavailable``),
    :class:`~fleetprompt_sdk.errors.PackageError` for a broken package, and
    :class:`ConflictError` (``incompatible-host``).
    """
    package = registry.get(requirement.name)
    if not requirement.allows(package.version):
        raise NotFoundError(
            f"{requirement} is not available: this host has {package.name} {package.version} "
            "(install the distribution that provides the version you want)",
            code="version-unavailable",
        )
    check_host_compatible(package.manifest, host_version)
    return package


@dataclass(frozen=True)
class Present:
    """A package present in a tenant, as far as dependencies are concerned."""

    version: str
    status: str


def missing_dependencies(
    registry: PackageRegistry,
    manifest: Manifest,
    present: Mapping[str, Present],
    host_version: str = HOST_VERSION,
) -> list[LoadedPackage]:
    """Return the packages to install before ``manifest``'s package, dependencies first.

    Walks dependencies transitively. A dependency present in the tenant at a version its
    dependent does not accept, one this host cannot provide, or a dependency cycle is an
    error (:class:`ConflictError` ``dependency-version`` / ``dependency-cycle`` or
    :class:`NotFoundError` ``dependency-unavailable``).
    """
    order: list[LoadedPackage] = []
    visiting: list[str] = [manifest.name]

    def visit(dependent: Manifest) -> None:
        for dep in dependent.dependencies:
            requirement = Requirement(dep.name, SpecifierSet(dep.version))
            if dep.name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(dep.name) :], dep.name])
                raise ConflictError(f"dependency cycle: {cycle}", code="dependency-cycle")
            here = present.get(dep.name)
            if here is not None and here.status in PRESENT:
                if not requirement.allows(here.version):
                    raise ConflictError(
                        f"{dependent.name} needs {requirement} but {dep.name} {here.version} "
                        f"is installed: upgrade {dep.name} first",
                        code="dependency-version",
                    )
                continue
            if any(p.name == dep.name for p in order):
                continue
            try:
                found = available(registry, requirement, host_version)
            except NotFoundError as exc:
                raise NotFoundError(
                    f"{dependent.name} needs {requirement}, which cannot be installed: "
                    f"{exc.message}",
                    code="dependency-unavailable",
                ) from None
            visiting.append(dep.name)
            visit(found.manifest)
            visiting.pop()
            order.append(found)

    visit(manifest)
    return order


def dependents(manifests: Mapping[str, Manifest], name: str) -> list[str]:
    """Return the packages (among ``manifests``) that depend on ``name``, transitively.

    Ordered so that each package comes before what it depends on: the order to remove
    them in.
    """
    direct: dict[str, set[str]] = {
        pkg: {d.name for d in m.dependencies} for pkg, m in manifests.items()
    }
    found: list[str] = []

    def visit(target: str) -> None:
        for pkg in sorted(direct):
            if target in direct[pkg] and pkg not in found and pkg != name:
                visit(pkg)
                if pkg not in found:
                    found.append(pkg)

    visit(name)
    return found
