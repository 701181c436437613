"""The package registry: every package this process knows, loaded, broken or disabled.

Discovery (:mod:`fleetprompt_host.discovery`) fills a registry from installed
distributions; tests and embedding hosts add packages with :meth:`PackageRegistry.register`.
A discovered package's code is imported on first use (``get``, ``packages``, ``statuses``),
so a command or a worker that needs one package does not pay for fifty.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pluggy

from fleetprompt_host.contributions import (
    PackageLoadError,
    call_plugin_hook,
    collect,
    new_plugin_manager,
    one_line,
    register_plugin,
)
from fleetprompt_sdk.context import InstallContext
from fleetprompt_sdk.errors import (
    ConflictError,
    ManifestError,
    NotFoundError,
    PackageError,
    Problem,
)
from fleetprompt_sdk.handlers import DirectiveHandler, SignalHandler
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.tools import Tool

Status = Literal["ok", "broken", "disabled"]
ENV_VAR = "FLEETPROMPT_PACKAGES"


@dataclass(frozen=True)
class Origin:
    """Where a package came from. All None for a package registered in code."""

    entry_point: str | None = None
    target: str | None = None
    distribution: str | None = None
    distribution_version: str | None = None

    def describe(self) -> str:
        """Return e.g. ``distribution fp-crm 1.0, entry point crm = fp_crm:package``."""
        if self.distribution is None:
            return "registered in code"
        where = f"distribution {self.distribution} {self.distribution_version or ''}".rstrip()
        return f"{where}, entry point {self.entry_point} = {self.target}"


@dataclass(eq=False)
class LoadedPackage:
    """A package whose code is loaded and agrees with its manifest."""

    manifest: Manifest
    plugin: object
    origin: Origin
    tools: dict[str, Tool] = field(default_factory=dict)
    signal_handlers: dict[str, SignalHandler] = field(default_factory=dict)
    directive_handlers: dict[str, DirectiveHandler] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The package name from the manifest."""
        return self.manifest.name

    @property
    def version(self) -> str:
        """The package version from the manifest."""
        return self.manifest.version

    @property
    def distribution(self) -> str | None:
        """The name of the distribution that ships it (None when registered in code)."""
        return self.origin.distribution

    @property
    def distribution_version(self) -> str | None:
        """The installed distribution's version."""
        return self.origin.distribution_version

    @property
    def entry_point(self) -> str | None:
        """The entry point's name in the ``fleetprompt.packages`` group."""
        return self.origin.entry_point


@dataclass(frozen=True)
class BrokenPackage:
    """A package left out because something about it is wrong; ``code`` is stable."""

    name: str
    version: str | None
    origin: Origin
    code: str
    reason: str
    problems: tuple[Problem, ...] = ()
    manifest: Manifest | None = None


@dataclass(frozen=True)
class DisabledPackage:
    """An installed package left out by ``FLEETPROMPT_PACKAGES``; its code is never imported."""

    name: str
    version: str | None
    origin: Origin
    read_manifest: Callable[[], Manifest] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PackageStatus:
    """One row of ``fleetprompt packages list``."""

    name: str
    version: str | None
    status: Status
    origin: Origin
    code: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used by ``packages list --json``."""
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "distribution": self.origin.distribution,
            "distribution_version": self.origin.distribution_version,
            "entry_point": self.origin.entry_point,
            "target": self.origin.target,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Candidate:
    """A discovered package with a valid manifest, waiting for its code to be imported."""

    manifest: Manifest
    origin: Origin
    load: Callable[[], object]


DISABLED_REASON = f"left out by {ENV_VAR}"


class PackageRegistry:
    """The packages of this process, and the pluggy plugin manager their code plugs into."""

    def __init__(self) -> None:
        self._pm = new_plugin_manager()
        # Loading runs package code; a lock keeps two threads from importing one package twice.
        self._lock = threading.RLock()
        self._pending: dict[str, Candidate] = {}
        self._loaded: dict[str, LoadedPackage] = {}
        #: Moves on each package loaded or registered (packages are never unloaded).
        self._generation = 0
        self._broken: list[BrokenPackage] = []
        self._disabled: list[DisabledPackage] = []
        #: Names that FLEETPROMPT_PACKAGES asked for but no installed package carries.
        self.not_found: tuple[str, ...] = ()

    # -- filled by discovery ------------------------------------------------------------
    def defer(self, candidate: Candidate) -> None:
        """Remember a discovered package; its code is imported on first use."""
        with self._lock:
            self._claim(candidate.manifest.name)
            self._pending[candidate.manifest.name] = candidate

    def mark_broken(self, broken: BrokenPackage) -> None:
        """Record a package that cannot be offered."""
        with self._lock:
            self._broken.append(broken)

    def mark_disabled(self, disabled: DisabledPackage) -> None:
        """Record an installed package left out by configuration."""
        with self._lock:
            self._disabled.append(disabled)

    def _claim(self, name: str) -> None:
        if name in self._pending or name in self._loaded:
            raise ConflictError(
                f"a package named {name!r} is already registered", code="name-conflict"
            )

    # -- loading ------------------------------------------------------------------------
    def _load(self, name: str) -> LoadedPackage | BrokenPackage:
        candidate = self._pending.pop(name)
        try:
            plugin = candidate.load()
        except (Exception, SystemExit) as exc:
            return self._fail(candidate, "import-failed", f"cannot import: {one_line(exc)}")
        try:
            return self._attach(candidate.manifest, plugin, candidate.origin)
        except PackageLoadError as exc:
            return self._fail(candidate, exc.code, exc.message, exc.problems)
        except Exception as exc:
            # An odd plugin object can trip pluggy itself; that must not escape either.
            if self._pm.has_plugin(name):
                self._pm.unregister(name=name)
            return self._fail(candidate, "load-failed", f"cannot load: {one_line(exc)}")

    def _fail(
        self, candidate: Candidate, code: str, reason: str, problems: list[Problem] | None = None
    ) -> BrokenPackage:
        broken = BrokenPackage(
            name=candidate.manifest.name,
            version=candidate.manifest.version,
            origin=candidate.origin,
            code=code,
            reason=reason,
            problems=tuple(problems or ()),
            manifest=candidate.manifest,
        )
        self._broken.append(broken)
        return broken

    def _attach(self, manifest: Manifest, plugin: object, origin: Origin) -> LoadedPackage:
        register_plugin(self._pm, manifest.name, plugin)
        try:
            found = collect(self._pm, manifest, plugin)
        except PackageLoadError:
            self._pm.unregister(name=manifest.name)
            raise
        package = LoadedPackage(
            manifest=manifest,
            plugin=plugin,
            origin=origin,
            tools=found.tools,
            signal_handlers=found.signal_handlers,
            directive_handlers=found.directive_handlers,
        )
        self._loaded[manifest.name] = package
        self._generation += 1
        return package

    def load_all(self) -> None:
        """Import every discovered package that is not loaded yet."""
        with self._lock:
            for name in sorted(self._pending):
                self._load(name)

    # -- programmatic registration -------------------------------------------------------
    def register(
        self, plugin: object, manifest: Manifest | str | os.PathLike[str]
    ) -> LoadedPackage:
        """Register a plugin object with its manifest (a :class:`Manifest` or a path).

        Raises :class:`ManifestError` for an invalid manifest file, :class:`ConflictError`
        when the name is taken and :class:`PackageError` (with ``problems``) when the code
        is not a plugin, a hook raises, or the code disagrees with the manifest.
        """
        if not isinstance(manifest, Manifest):
            manifest = read_manifest_file(Path(manifest))
        with self._lock:
            self._claim(manifest.name)
            return self._attach(manifest, plugin, Origin())

    # -- lookups ------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Return the names of the packages that are (or will be) offered, without loading."""
        with self._lock:
            return sorted(set(self._pending) | set(self._loaded))

    def find(self, name: str) -> LoadedPackage | BrokenPackage | DisabledPackage | None:
        """Return what the registry knows about ``name``, loading only that package."""
        with self._lock:
            if name in self._pending:
                self._load(name)
            if name in self._loaded:
                return self._loaded[name]
            entries: list[BrokenPackage | DisabledPackage] = [*self._broken, *self._disabled]
            return next((entry for entry in entries if entry.name == name), None)

    def get(self, name: str) -> LoadedPackage:
        """Return the loaded package ``name``; raise a typed error saying why it is unavailable."""
        entry = self.find(name)
        if isinstance(entry, LoadedPackage):
            return entry
        if isinstance(entry, BrokenPackage):
            raise PackageError(
                f"package {name!r} is broken: {entry.reason} [{entry.code}]", code="package-broken"
            )
        if isinstance(entry, DisabledPackage):
            raise NotFoundError(
                f"package {name!r} is installed but {DISABLED_REASON}", code="package-disabled"
            )
        raise NotFoundError(
            f"no package named {name!r} is installed (see `fleetprompt packages list`)",
            code="package-not-found",
        )

    @property
    def generation(self) -> int:
        """A number that changes whenever a package is loaded or registered (after loading
        every discovered package): caches of what the packages declare key on it."""
        with self._lock:
            if self._pending:
                self.load_all()
            return self._generation

    @property
    def packages(self) -> dict[str, LoadedPackage]:
        """Every usable package by name (loads all discovered packages)."""
        self.load_all()
        with self._lock:
            return dict(sorted(self._loaded.items()))

    @property
    def broken(self) -> list[BrokenPackage]:
        """Every package left out as broken (loads all discovered packages)."""
        self.load_all()
        with self._lock:
            return sorted(self._broken, key=lambda b: (b.name, b.origin.distribution or ""))

    @property
    def disabled(self) -> list[DisabledPackage]:
        """Installed packages left out by ``FLEETPROMPT_PACKAGES``."""
        with self._lock:
            return sorted(self._disabled, key=lambda d: (d.name, d.origin.distribution or ""))

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The pluggy plugin manager holding every usable package (loads them all)."""
        self.load_all()
        return self._pm

    def __iter__(self) -> Iterator[LoadedPackage]:
        return iter(self.packages.values())

    def statuses(self) -> list[PackageStatus]:
        """Return one status row per discovered or registered package, sorted by name."""
        rows = [PackageStatus(p.name, p.version, "ok", p.origin) for p in self.packages.values()]
        rows += [
            PackageStatus(b.name, b.version, "broken", b.origin, b.code, b.reason)
            for b in self.broken
        ]
        rows += [
            PackageStatus(d.name, d.version, "disabled", d.origin, "disabled", DISABLED_REASON)
            for d in self.disabled
        ]
        return sorted(rows, key=lambda r: (r.name, r.origin.distribution or ""))

    def directive_handler(self, type_: str) -> tuple[LoadedPackage, DirectiveHandler] | None:
        """Return the package that handles directive ``type_`` and its handler, if any."""
        for package in self.packages.values():
            handler = package.directive_handlers.get(type_)
            if handler is not None:
                return package, handler
        return None

    # -- lifecycle hooks on one package ------------------------------------------------------
    def call_install(self, name: str, ctx: InstallContext) -> None:
        """Run package ``name``'s install hook only; its exceptions propagate unchanged."""
        call_plugin_hook(self._pm, self.get(name).plugin, "fleetprompt_install", ctx=ctx)

    def call_upgrade(
        self, name: str, ctx: InstallContext, from_version: str, to_version: str
    ) -> None:
        """Run package ``name``'s upgrade hook only; its exceptions propagate unchanged."""
        call_plugin_hook(
            self._pm,
            self.get(name).plugin,
            "fleetprompt_upgrade",
            ctx=ctx,
            from_version=from_version,
            to_version=to_version,
        )

    def call_uninstall(self, name: str, ctx: InstallContext, purge: bool) -> None:
        """Run package ``name``'s uninstall hook only; its exceptions propagate unchanged."""
        call_plugin_hook(
            self._pm, self.get(name).plugin, "fleetprompt_uninstall", ctx=ctx, purge=purge
        )


def read_manifest_file(path: Path) -> Manifest:
    """Read and validate a manifest file or package directory; raise :class:`ManifestError`."""
    from fleetprompt_host.manifest_sources import from_path
    from fleetprompt_host.validation import validate_document

    document = from_path(path)
    report = validate_document(document.data, document.origin)
    if not report.ok or report.manifest is None:
        errors = [p for p in report.problems if p.severity == "error"]
        details = "; ".join(str(p) for p in errors[:3])
        raise ManifestError(
            f"{document.origin}: invalid manifest: {details}", problems=list(report.problems)
        )
    return report.manifest
