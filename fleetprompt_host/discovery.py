"""Package discovery: installed distributions with ``fleetprompt.packages`` entry points.

One pass over the installed distributions finds every entry point of the group. For each,
the static manifest (``fleetprompt.json`` in the entry point's module) is read from the
distribution's files and validated without importing the package; the code is imported
later, on first use, by the :class:`~fleetprompt_host.registry.PackageRegistry`. Nothing
about one package (a bad manifest, an import error, a name taken twice) can stop the
others from loading: it becomes a :class:`~fleetprompt_host.registry.BrokenPackage`.
"""

from __future__ import annotations

import configparser
import functools
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fleetprompt_host.contributions import one_line
from fleetprompt_host.manifest_sources import ManifestDocument, from_distribution
from fleetprompt_host.registry import (
    ENV_VAR,
    BrokenPackage,
    Candidate,
    DisabledPackage,
    Origin,
    PackageRegistry,
)
from fleetprompt_sdk.errors import ManifestError
from fleetprompt_sdk.manifest import Manifest

#: The entry point group through which packages are found.
GROUP = "fleetprompt.packages"

PathEntry = str | os.PathLike[str]


class _FromEnvironment(Enum):
    TOKEN = "from-environment"


#: Default of ``discover(enabled=...)``: read ``FLEETPROMPT_PACKAGES``.
FROM_ENV = _FromEnvironment.TOKEN


def enabled_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str] | None:
    """Return the package names ``FLEETPROMPT_PACKAGES`` selects; None when it is unset.

    The value is a comma-separated list (``crm,helpdesk``); an empty value selects none.
    """
    raw = (os.environ if environ is None else environ).get(ENV_VAR)
    if raw is None:
        return None
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class FoundEntryPoint:
    """An entry point of the group and the distribution that declares it."""

    entry_point: importlib.metadata.EntryPoint
    distribution: importlib.metadata.Distribution
    origin: Origin

    @property
    def label(self) -> str:
        """The distribution and entry point, for messages."""
        return f"{self.origin.distribution} (entry point {self.origin.entry_point})"


def scan(path: Sequence[PathEntry] | None = None) -> list[FoundEntryPoint]:
    """Return the group's entry points from one pass over the installed distributions.

    ``path`` is the list of directories to search (default ``sys.path``). A distribution
    found twice (installed in two places) counts once: the first on the path wins, as
    for imports.
    """
    kwargs: dict[str, Any] = {} if path is None else {"path": [os.fspath(p) for p in path]}
    seen: set[str] = set()
    found: list[FoundEntryPoint] = []
    for dist in importlib.metadata.distributions(**kwargs):
        # entry_points.txt is read for every distribution anyway; METADATA is parsed only
        # for the few that declare a package.
        entry_points = _group_entry_points(dist)
        if not entry_points:
            continue
        dist_name = dist.metadata["Name"] or "<unnamed>"
        key = _normalise(dist_name)
        if key in seen:
            continue
        seen.add(key)
        for ep in entry_points:
            origin = Origin(
                entry_point=ep.name,
                target=ep.value,
                distribution=dist_name,
                distribution_version=dist.version,
            )
            found.append(FoundEntryPoint(ep, dist, origin))
    return found


def _group_entry_points(
    dist: importlib.metadata.Distribution,
) -> list[importlib.metadata.EntryPoint]:
    """Return the distribution's entry points of the group, parsed here.

    ``dist.entry_points`` is not used: when the ``importlib_metadata`` backport is
    imported, its finder hands out distributions whose entry points validate their values
    eagerly, so one malformed entry point would raise for the whole distribution instead
    of being reported as a broken package.
    """
    text = dist.read_text("entry_points.txt")
    if not text or GROUP not in text:
        return []
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    if not parser.has_section(GROUP):
        return []
    return [
        importlib.metadata.EntryPoint(name=name, value=value.strip(), group=GROUP)
        for name, value in parser.items(GROUP)
    ]


def _normalise(name: str) -> str:
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def discover(
    path: Sequence[PathEntry] | None = None,
    *,
    enabled: Collection[str] | _FromEnvironment | None = FROM_ENV,
) -> PackageRegistry:
    """Find the installed packages and return a registry that loads them on first use.

    ``path`` limits the search to these directories (default ``sys.path``); a directory
    that is not on ``sys.path`` is appended to it when one of its packages is imported.
    ``enabled`` names the packages to load (default: ``FLEETPROMPT_PACKAGES``; None: all);
    the others are listed as disabled and never imported.
    """
    selected = enabled_from_env() if enabled is FROM_ENV else _names(enabled)
    registry = PackageRegistry()
    valid: dict[str, list[tuple[Manifest, FoundEntryPoint]]] = {}
    seen_names: set[str] = set()
    for found in scan(path):
        try:
            outcome = _examine(found, selected)
        except Exception as exc:  # a last guard: one odd distribution must not stop discovery
            outcome = _broken(
                found,
                found.origin.entry_point or "?",
                None,
                "discovery-failed",
                f"cannot examine the distribution: {one_line(exc)}",
            )
        if isinstance(outcome, BrokenPackage):
            registry.mark_broken(outcome)
            seen_names.add(outcome.name)
        elif isinstance(outcome, DisabledPackage):
            registry.mark_disabled(outcome)
        else:
            valid.setdefault(outcome.name, []).append((outcome, found))
            seen_names.add(outcome.name)
    for name, claims in sorted(valid.items()):
        if len(claims) == 1:
            manifest, found = claims[0]
            registry.defer(Candidate(manifest, found.origin, _loader(found, path is not None)))
            continue
        # Neither claimant wins: which code would run must not depend on sys.path order.
        owners = ", ".join(sorted(found.label for _, found in claims))
        for manifest, found in claims:
            registry.mark_broken(
                _broken(
                    found,
                    name,
                    manifest.version,
                    "name-conflict",
                    f"package name {name!r} is claimed by several distributions: {owners}",
                    manifest=manifest,
                )
            )
    if selected is not None:
        registry.not_found = tuple(sorted(selected - seen_names))
    return registry


def _names(enabled: Iterable[str] | None) -> frozenset[str] | None:
    return None if enabled is None else frozenset(n.strip().lower() for n in enabled)


def _examine(
    found: FoundEntryPoint, selected: frozenset[str] | None
) -> Manifest | BrokenPackage | DisabledPackage:
    """Read and (for selected packages) validate one entry point's manifest."""
    ep, dist = found.entry_point, found.distribution
    fallback_name = ep.name
    try:
        module = ep.module
    except AttributeError:
        return _broken(
            found,
            fallback_name,
            None,
            "entry-point-invalid",
            f"entry point value {ep.value!r} is not 'module:attribute'",
        )
    read = _read_document(dist, module)
    data = read.data if isinstance(read, ManifestDocument) else None
    raw = data if isinstance(data, dict) else {}
    name = raw["name"] if isinstance(raw.get("name"), str) else fallback_name
    version = raw["version"] if isinstance(raw.get("version"), str) else dist.version
    if selected is not None and name not in selected:
        # Validation is left to `packages show`; the code is never imported.
        reader = (
            functools.partial(_validated, read.data, read.origin)
            if isinstance(read, ManifestDocument)
            else None
        )
        return DisabledPackage(
            name=name, version=version, origin=found.origin, read_manifest=reader
        )
    if isinstance(read, ManifestError):
        return _broken(found, name, version, read.code, read.message, problems=read.problems)
    try:
        return _validated(read.data, read.origin)
    except ManifestError as exc:
        return _broken(found, name, version, exc.code, exc.message, problems=exc.problems)


def _read_document(
    dist: importlib.metadata.Distribution, module: str
) -> ManifestDocument | ManifestError:
    """Return the raw manifest of an installed distribution, or the error that stops it."""
    try:
        return from_distribution(dist, module)
    except ManifestError as exc:
        return exc
    except OSError as exc:
        # A file the distribution's RECORD lists may have been deleted since.
        return ManifestError(
            f"cannot read the manifest: {one_line(exc)}", code="manifest-unreadable"
        )


def _validated(data: object, origin: str) -> Manifest:
    from fleetprompt_host.validation import validate_document

    report = validate_document(data, origin)
    errors = [p for p in report.problems if p.severity == "error"]
    if errors or report.manifest is None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ManifestError(
            f"invalid manifest: {errors[0]}{more}" if errors else "invalid manifest",
            problems=errors,
        )
    return report.manifest


def _broken(
    found: FoundEntryPoint,
    name: str,
    version: str | None,
    code: str,
    reason: str,
    *,
    problems: list[Any] | None = None,
    manifest: Manifest | None = None,
) -> BrokenPackage:
    return BrokenPackage(
        name=name,
        version=version,
        origin=found.origin,
        code=code,
        reason=reason,
        problems=tuple(problems or ()),
        manifest=manifest,
    )


def _loader(found: FoundEntryPoint, importable: bool) -> Callable[[], object]:
    """Return a function that imports the entry point's object."""

    def load() -> object:
        if importable:
            _ensure_on_sys_path(found.distribution)
        return found.entry_point.load()

    return load


def _ensure_on_sys_path(dist: importlib.metadata.Distribution) -> None:
    """Make a distribution found through an explicit search path importable."""
    try:
        location = os.path.abspath(str(dist.locate_file("")))
    except (NotImplementedError, TypeError):
        return
    if location not in {os.path.abspath(entry) for entry in sys.path if entry}:
        sys.path.append(location)
        importlib.invalidate_caches()
