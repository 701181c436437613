"""Building lifecycle plans from a tenant's state: what to request, in which order.

Every check that can fail without running package code happens here, before anything is
written: unknown package, unsatisfiable version, incompatible host, invalid config, missing
dependency, a dependent in the way, an operation already pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.models import DirectiveRow, InstallationRow
from fleetprompt_sdk.errors import ConflictError, NotFoundError
from fleetprompt_sdk.manifest import Manifest

from . import keys, secret_store, state
from .config import ResolvedConfig, describe_changes, merge, parse_assignments, resolve
from .lifecycle import refs_to_params
from .plan import Plan, Step
from .provisioning import kept_counts, planned_records, removal_counts
from .requirements import (
    PRESENT,
    Present,
    Requirement,
    available,
    dependents,
    missing_dependencies,
    parse_requirement,
)
from .secrets import Keyring


@dataclass(frozen=True)
class ConfigInput:
    """Config as the operator gave it: a file's object, ``--set`` items, ``--unset`` names."""

    file: dict[str, Any] | None = None
    sets: tuple[str, ...] = ()
    unsets: tuple[str, ...] = ()

    def layered(self, manifest: Manifest, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return ``base`` with the file, then ``--set``, applied, minus ``--unset`` keys."""
        out = merge(base, self.file, parse_assignments(self.sets, manifest))
        for name in self.unsets:
            out.pop(name, None)
        return out


@dataclass
class Planner:
    """Plans operations in one tenant, reading through ``session``."""

    session: Session
    registry: PackageRegistry
    tenant: str
    keyring: Keyring | None = None
    dry_run: bool = False
    _rows: dict[str, InstallationRow] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rows = {row.package: row for row in state.all_rows(self.session)}

    # -- helpers ------------------------------------------------------------------------
    def _present(self) -> dict[str, Present]:
        return {
            name: Present(row.version, row.status)
            for name, row in self._rows.items()
            if row.status in PRESENT
        }

    def _revision(self, package: str) -> int:
        row = self._rows.get(package)
        return row.generation if row is not None else 0

    def _refs(self, package: str, resolved: ResolvedConfig) -> dict[str, str]:
        if not resolved.secrets:
            return {}
        if self.keyring is None:
            # Only a dry run gets here without a key: the refs are not needed to plan.
            return {f: "sec_" + "0" * 40 for f in resolved.secrets}
        return {
            f: secret_store.reference(self.keyring, self.tenant, package, f, v)
            for f, v in resolved.secrets.items()
        }

    def _stored_secrets(self, row: InstallationRow) -> dict[str, str]:
        refs = state.secret_refs(row)
        if not refs or self.keyring is None:
            return {}
        return secret_store.read_secrets(self.session, self.keyring, self.tenant, refs)

    def _pending(self, row: InstallationRow) -> DirectiveRow | None:
        if row.directive_id is None:
            return None
        found = self.session.get(DirectiveRow, row.directive_id)
        if found is not None and found.status in ("requested", "running"):
            return found
        return None

    def _refuse_other_pending(self, row: InstallationRow, key: str) -> None:
        pending = self._pending(row)
        if pending is not None and pending.idempotency_key != key:
            raise ConflictError(
                f"{pending.type} of {row.package} is already {pending.status} here "
                f"(directive {pending.id}): wait for it, or cancel it with "
                "`fleetprompt directives cancel`",
                code="operation-pending",
            )

    # -- install ------------------------------------------------------------------------
    def install(self, requirement: str, config: ConfigInput, *, with_deps: bool = False) -> Plan:
        """Plan installing ``requirement`` (and its missing dependencies with ``with_deps``)."""
        plan = Plan(self.tenant, "install", dry_run=self.dry_run)
        target = available(self.registry, parse_requirement(requirement))
        resolved = resolve(target.manifest, config.layered(target.manifest))
        missing = missing_dependencies(self.registry, target.manifest, self._present())
        if missing and not with_deps:
            names = ", ".join(f"{p.name} {p.version}" for p in missing)
            needs = ", ".join(str(d.name) + d.version for d in target.manifest.dependencies)
            raise ConflictError(
                f"{target.name} needs {needs}; missing in {self.tenant}: {names} "
                "(install them first, or pass --with-deps)",
                code="missing-dependency",
            )
        for dep in missing:
            dep_config = resolve(dep.manifest, {})
            plan.steps.append(
                self._install_step(dep.manifest, dep_config, reason=f"dependency of {target.name}")
            )
        plan.steps.append(self._install_step(target.manifest, resolved))
        return plan

    def _install_step(
        self, manifest: Manifest, resolved: ResolvedConfig, reason: str = "requested"
    ) -> Step:
        name, version = manifest.name, manifest.version
        row = self._rows.get(name)
        key = keys.install_key(name, version, resolved.checksum, self._revision(name))
        refs = self._refs(name, resolved)
        params: dict[str, Any] = {
            "package": name,
            "version": version,
            "config": resolved.public,
            "secret_refs": refs_to_params(refs),
            "config_checksum": resolved.checksum,
            "dependency_of": None if reason == "requested" else reason.rsplit(" ", 1)[-1],
        }
        step = Step("install", name, version, key, params, reason=reason, secrets=resolved.secrets)
        step.config_changes = describe_changes({}, resolved.public, [], resolved.secret_fields)
        if row is not None and row.status in PRESENT:
            same = (row.version, row.config_checksum) == (version, resolved.checksum)
            if same and self._stored_secrets(row) == resolved.secrets:
                step.noop = f"{name} {version} is already {row.status} with this config"
                return step
            raise ConflictError(
                f"{name} {row.version} is already {row.status} in {self.tenant}: use "
                "`fleetprompt upgrade` to change its version or config",
                code="already-installed",
            )
        if row is not None:
            self._refuse_other_pending(row, key)
        step.records_create = planned_records(self.session, manifest)
        return step

    # -- upgrade ------------------------------------------------------------------------
    def upgrade(self, requirement: str, config: ConfigInput, *, with_deps: bool = False) -> Plan:
        """Plan upgrading (or reconfiguring) an installed package."""
        plan = Plan(self.tenant, "upgrade", dry_run=self.dry_run)
        wanted = parse_requirement(requirement)
        row = self._rows.get(wanted.name)
        if row is None or row.status not in PRESENT:
            status = "not installed" if row is None else row.status
            raise NotFoundError(
                f"{wanted.name} is {status} in {self.tenant}: install it first",
                code="not-installed",
            )
        target = available(self.registry, wanted)
        old = Manifest.model_validate(row.manifest) if row.manifest else target.manifest
        _refuse_downgrade(row.version, target.version, wanted.name)
        old_secrets = self._stored_secrets(row)
        base = {**dict(row.config or {}), **old_secrets}
        resolved = resolve(target.manifest, config.layered(target.manifest, base))
        self._refuse_breaking_dependents(wanted.name, target.version)
        missing = missing_dependencies(self.registry, target.manifest, self._present())
        if missing and not with_deps:
            names = ", ".join(f"{p.name} {p.version}" for p in missing)
            raise ConflictError(
                f"{target.name} {target.version} needs {names} installed first "
                "(or pass --with-deps)",
                code="missing-dependency",
            )
        for dep in missing:
            plan.steps.append(
                self._install_step(
                    dep.manifest, resolve(dep.manifest, {}), f"dependency of {target.name}"
                )
            )
        name, version = target.name, target.version
        key = keys.upgrade_key(name, row.version, version, resolved.checksum, row.generation)
        refs = self._refs(name, resolved)
        if old_secrets and refs and self.keyring is not None:
            # Unchanged secrets keep their stored reference across a key rotation.
            stored = state.secret_refs(row)
            refs = {
                f: stored[f] if old_secrets.get(f) == v else refs[f]
                for f, v in resolved.secrets.items()
            }
        params = {
            "package": name,
            "from_version": row.version,
            "version": version,
            "config": resolved.public,
            "secret_refs": refs_to_params(refs),
            "config_checksum": resolved.checksum,
        }
        step = Step(
            "upgrade",
            name,
            version,
            key,
            params,
            from_version=row.version,
            secrets=resolved.secrets,
        )
        changed = [f for f, v in resolved.secrets.items() if old_secrets.get(f) != v]
        step.config_changes = describe_changes(
            dict(row.config or {}),
            resolved.public,
            old_secrets,
            resolved.secrets,
            secrets_changed=changed,
        )
        old_tools = {t.name for t in old.tools}
        new_tools = {t.name for t in target.manifest.tools}
        step.tools_added = sorted(new_tools - old_tools)
        step.tools_removed = sorted(old_tools - new_tools)
        step.records_create = planned_records(self.session, target.manifest)
        removed = set(old_secrets) - set(resolved.secrets)
        same_config = row.config_checksum == resolved.checksum and not changed and not removed
        if row.version == version and same_config:
            step.noop = f"{name} {version} is already installed with this config"
        else:
            self._refuse_other_pending(row, key)
        plan.steps.append(step)
        return plan

    def _refuse_breaking_dependents(self, name: str, version: str) -> None:
        from packaging.specifiers import SpecifierSet

        for other, manifest in state.installed_manifests(self.session).items():
            for dep in manifest.dependencies:
                if dep.name == name and not Requirement(name, SpecifierSet(dep.version)).allows(
                    version
                ):
                    raise ConflictError(
                        f"{other} needs {name}{dep.version}; {name} {version} would break it",
                        code="breaks-dependent",
                    )

    # -- uninstall ----------------------------------------------------------------------
    def uninstall(self, package: str, *, purge: bool = False, cascade: bool = False) -> Plan:
        """Plan removing ``package`` (and, with ``cascade``, the packages that need it)."""
        plan = Plan(self.tenant, "uninstall", dry_run=self.dry_run)
        row = self._rows.get(package)
        if row is None or row.status == "uninstalled":
            raise NotFoundError(
                f"{package} is not installed in {self.tenant}", code="not-installed"
            )
        others = {k: v for k, v in state.installed_manifests(self.session).items() if k != package}
        needed_by = dependents(others, package)
        if needed_by and not cascade:
            raise ConflictError(
                f"{package} is needed by {', '.join(needed_by)} in {self.tenant}: uninstall them "
                "first, or pass --cascade to uninstall them too",
                code="package-required",
            )
        for other in needed_by:
            plan.steps.append(self._uninstall_step(other, purge, reason=f"depends on {package}"))
        plan.steps.append(self._uninstall_step(package, purge))
        return plan

    def _uninstall_step(self, package: str, purge: bool, reason: str = "requested") -> Step:
        row = self._rows[package]
        key = keys.uninstall_key(package, row.version, purge, row.generation)
        params = {"package": package, "version": row.version, "purge": purge, "dependent_of": None}
        step = Step("uninstall", package, row.version, key, params, reason=reason)
        step.records_remove = removal_counts(self.session, package, purge=purge)
        step.records_kept = {} if purge else kept_counts(self.session, package)
        step.config_changes = [
            {"field": f, "change": "unset", "secret": True} for f in sorted(state.secret_refs(row))
        ]
        self._refuse_other_pending(row, key)
        return step

    # -- enable / disable ----------------------------------------------------------------
    def toggle(self, package: str, action: str) -> Plan:
        """Plan enabling or disabling ``package``."""
        plan = Plan(self.tenant, action, dry_run=self.dry_run)
        row = self._rows.get(package)
        if row is None or row.status not in PRESENT:
            status = "not installed" if row is None else row.status
            raise NotFoundError(f"{package} is {status} in {self.tenant}", code="not-installed")
        key = keys.toggle_key(action, package, row.generation)
        step = Step(action, package, row.version, key, {"package": package})
        wanted = "disabled" if action == "disable" else "installed"
        if row.status == wanted:
            step.noop = f"{package} is already {'disabled' if action == 'disable' else 'enabled'}"
        else:
            self._refuse_other_pending(row, key)
        plan.steps.append(step)
        return plan


def _refuse_downgrade(installed: str, target: str, name: str) -> None:
    from packaging.version import Version

    if Version(target) < Version(installed):
        raise ConflictError(
            f"{name} {installed} is installed; this host offers the older {target}: "
            "downgrades are not supported",
            code="downgrade-refused",
        )
