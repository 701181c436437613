"""Identity and compatibility rules: PEP 440 versions and specifiers, the package name."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from fleetprompt_sdk.errors import Problem
from fleetprompt_sdk.naming import TOOL_NAMESPACE_SEPARATOR

from .view import ManifestView


def parse_specifier(text: str) -> SpecifierSet | None:
    """Return ``text`` as a PEP 440 specifier set, or None when it is not one."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def parse_version(text: str) -> Version | None:
    """Return ``text`` as a PEP 440 version, or None when it is not one."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _runtime_version() -> Version | None:
    from fleetprompt_host import __version__

    return parse_version(__version__)


def check_version(view: ManifestView) -> Iterator[Problem]:
    """``version`` must be a PEP 440 version."""
    version = view.text("version")
    if version and parse_version(version) is None:
        yield Problem(
            "invalid-version",
            "version",
            f"{version!r} is not a PEP 440 version (e.g. '1.2.0', '2.0.0rc1')",
        )


def check_specifiers(view: ManifestView) -> Iterator[Problem]:
    """``requires_fleetprompt`` and each dependency's ``version`` must be PEP 440 specifiers."""
    requires = view.text("requires_fleetprompt")
    if requires:
        spec = parse_specifier(requires)
        if spec is None:
            yield Problem(
                "invalid-specifier",
                "requires_fleetprompt",
                f"{requires!r} is not a PEP 440 version specifier (e.g. '>=0.1,<1')",
            )
        else:
            runtime = _runtime_version()
            if runtime is not None and not spec.contains(runtime, prereleases=True):
                yield Problem(
                    "runtime-incompatible",
                    "requires_fleetprompt",
                    f"{requires!r} excludes this FleetPrompt runtime ({runtime})",
                    severity="warning",
                )
    for entry in view.entries("dependencies"):
        text = entry.text("version")
        if text and parse_specifier(text) is None:
            yield Problem(
                "invalid-specifier",
                entry.at("version"),
                f"{text!r} is not a PEP 440 version specifier (e.g. '>=1.0,<2')",
            )


def check_name(view: ManifestView) -> Iterator[Problem]:
    """The package name must not contain the tool namespace separator ``__``.

    Model-facing tool names are ``<package>__<tool>``; a package name containing ``__``
    would make them ambiguous.
    """
    name = view.name
    if name and TOOL_NAMESPACE_SEPARATOR in name:
        yield Problem(
            "reserved-separator-in-name",
            "name",
            f"{name!r} contains {TOOL_NAMESPACE_SEPARATOR!r}, which separates the package "
            "from the tool in model-facing tool names",
        )


def check_self_dependency(view: ManifestView) -> Iterator[Problem]:
    """A package must not list itself as a dependency."""
    name = view.name
    for entry in view.entries("dependencies"):
        if name and entry.text("name") == name:
            yield Problem(
                "dependency-cycle",
                entry.at("name"),
                f"package {name!r} depends on itself",
            )


RULES = (check_version, check_specifiers, check_name, check_self_dependency)
