"""The host directive handlers of ``package.install`` and ``package.upgrade``.

Each runs inside its directive's transaction (see the engine's runner): the installation
row, the provisioned records, what the package's hook wrote and the ``started`` and
``completed`` signals commit together or not at all. A hook that raises, a dependency
that is missing or a config that no longer validates fails the directive and leaves the
tenant exactly as it was; :mod:`.failures` then records the failure on the installation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packaging.specifiers import SpecifierSet
from sqlalchemy.orm import Session

from fleetprompt_host.engine.contexts import HostDirectiveContext
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.faults import pause_point
from fleetprompt_host.storage.models import DirectiveRow, InstallationRow
from fleetprompt_sdk.errors import ConflictError, FleetPromptError, PackageError
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Directive

from . import secret_store, state
from .config import resolve
from .hook_context import HostInstallContext
from .provisioning import provision
from .requirements import PRESENT, Requirement, check_host_compatible
from .trail import lifecycle_event


def refs_from_params(params: dict[str, Any]) -> dict[str, str]:
    """Return the secret references of lifecycle params as field -> reference."""
    return {str(item["field"]): str(item["ref"]) for item in params.get("secret_refs", [])}


def refs_to_params(refs: dict[str, str]) -> list[dict[str, str]]:
    """Return secret references in the form directive params carry them."""
    return [{"field": field, "ref": ref} for field, ref in sorted(refs.items())]


def current_manifest(registry: PackageRegistry, package: str, version: str) -> Manifest:
    """Return the manifest of ``package`` this host runs, which must be ``version``."""
    manifest = registry.get(package).manifest
    if manifest.version != version:
        raise ConflictError(
            f"{package} {version} was requested but this host now runs {package} "
            f"{manifest.version}: request the operation again",
            code="version-changed",
        )
    check_host_compatible(manifest)
    return manifest


def check_dependencies(session: Session, manifest: Manifest) -> None:
    """Raise unless every dependency of ``manifest`` is present at an accepted version.

    A dependency whose own install is still pending raises a retryable error
    (``dependency-pending``), so a worker that picks the dependent first tries again later;
    anything else missing is a :class:`ConflictError` (``missing-dependency``).
    """
    if not manifest.dependencies:
        return
    rows = {row.package: row for row in state.all_rows(session)}
    missing: list[str] = []
    pending: list[str] = []
    for dep in manifest.dependencies:
        requirement = Requirement(dep.name, SpecifierSet(dep.version))
        row = rows.get(dep.name)
        if row is not None and row.status in PRESENT and requirement.allows(row.version):
            continue
        if row is not None and row.status == "requested" and _in_flight(session, row):
            pending.append(str(requirement))
            continue
        have = f" ({dep.name} {row.version} is {row.status})" if row is not None else ""
        missing.append(f"{requirement}{have}")
    if missing:
        raise ConflictError(
            f"{manifest.name} {manifest.version} needs {', '.join(missing)} installed first",
            code="missing-dependency",
        )
    if pending:
        raise FleetPromptError(
            f"{manifest.name} waits for {', '.join(pending)} to finish installing",
            code="dependency-pending",
        )


def _in_flight(session: Session, row: InstallationRow) -> bool:
    directive = session.get(DirectiveRow, row.directive_id) if row.directive_id else None
    return directive is not None and directive.status in ("requested", "running")


def checked_config(
    session: Session, tenant: str, manifest: Manifest, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str], str]:
    """Validate the params' config against ``manifest``; return (public, refs, checksum).

    Secret values are decrypted only to be validated; they never leave this function.
    """
    refs = refs_from_params(params)
    values: dict[str, Any] = dict(params.get("config", {}))
    if refs:
        from .secrets import load_keyring

        values.update(secret_store.read_secrets(session, load_keyring(), tenant, refs))
    resolved = resolve(manifest, values)
    return resolved.public, refs, resolved.checksum


def call_hook(manifest: Manifest, hook: str, call: Callable[[], None]) -> None:
    """Run a package's lifecycle hook; its failure becomes :class:`PackageError`."""
    try:
        call()
    except Exception as exc:
        code = exc.code if isinstance(exc, FleetPromptError) else type(exc).__name__
        text = str(exc).strip()
        error = PackageError(
            f"the {hook} hook of {manifest.name} {manifest.version} failed: "
            f"{text.splitlines()[0] if text else '(no message)'} [{code}]",
            code=f"{hook}-hook-failed",
        )
        # Package code failing is not a passing glitch: the runner must not retry it.
        error.retryable = False  # type: ignore[attr-defined]
        raise error from exc


def hook_context(
    ctx: HostDirectiveContext, manifest: Manifest, config: dict[str, Any]
) -> HostInstallContext:
    """Return the context a lifecycle hook of ``manifest``'s package receives."""
    return HostInstallContext(
        tenant=ctx.tenant,
        actor=ctx.actor,
        correlation_id=ctx.correlation_id,
        package=manifest.name,
        records=ctx.records_for(manifest, provisioned=True),
        config=dict(config),
    )


def emit_event(ctx: HostDirectiveContext, action: str, event: str, **data: Any) -> None:
    """Emit ``package.<action>.<event>`` for the directive being run, in its transaction."""
    directive = ctx.directive
    lifecycle_event(
        ctx.session,
        ctx.registry,
        ctx.tenant,
        action=action,
        event=event,
        package=str(directive.params["package"]),
        directive_id=directive.id,
        actor=str(directive.actor),
        correlation_id=directive.correlation_id,
        data=data,
        attempt=directive.attempts,
    )


def handle_install(ctx: HostDirectiveContext, directive: Directive) -> dict[str, Any]:
    """Install a package: row, seed records, agent profiles, install hook, signals."""
    params = dict(directive.params)
    session, package, version = ctx.session, str(params["package"]), str(params["version"])
    manifest = current_manifest(ctx.registry, package, version)
    row = state.get_row(session, package, lock=True) or state.ensure_requested(
        session, package, version, requested_by=str(ctx.directive.actor)
    )
    public, refs, checksum = checked_config(session, ctx.tenant, manifest, params)
    if row.status in PRESENT:
        same = (row.version, row.config_checksum, state.secret_refs(row))
        if same == (version, checksum, refs):
            return {"package": package, "version": version, "status": row.status, "noop": True}
        raise ConflictError(
            f"{package} {row.version} is already installed here: use `fleetprompt upgrade` "
            "to change its version or config",
            code="already-installed",
        )
    check_dependencies(session, manifest)
    emit_event(ctx, "install", "started", version=version)
    state.save(
        session,
        row,
        status="installed",
        version=version,
        config=public,
        secret_refs=refs,
        config_checksum=checksum,
        manifest=state.manifest_json(manifest),
        installed_at=utcnow(),
        directive_id=ctx.directive.id,
        requested_by=str(ctx.directive.actor),
        error=None,
    )
    report = provision(
        session, manifest, actor=str(ctx.directive.actor), directive_id=ctx.directive.id
    )
    hook = hook_context(ctx, manifest, public)
    call_hook(manifest, "install", lambda: ctx.registry.call_install(package, hook))
    pause_point("package-install")
    if refs or manifest.secret_fields():
        secret_store.prune(session, package, keep=refs.values())
    emit_event(
        ctx,
        "install",
        "completed",
        version=version,
        config_checksum=checksum,
        secret_fields=sorted(refs),
        records_created=len(report.created),
    )
    return {
        "package": package,
        "version": version,
        "status": "installed",
        "provisioned": report.created,
    }


def handle_upgrade(ctx: HostDirectiveContext, directive: Directive) -> dict[str, Any]:
    """Upgrade (or reconfigure) a package: hook, new manifest and version in one commit."""
    params = dict(directive.params)
    session, package = ctx.session, str(params["package"])
    version, from_version = str(params["version"]), str(params["from_version"])
    manifest = current_manifest(ctx.registry, package, version)
    row = state.require_row(session, package, lock=True)
    if row.status not in PRESENT:
        raise ConflictError(
            f"{package} is {row.status} here, not installed: install it instead",
            code="not-installed",
        )
    public, refs, checksum = checked_config(session, ctx.tenant, manifest, params)
    if row.version != from_version:
        if (row.version, row.config_checksum, state.secret_refs(row)) == (version, checksum, refs):
            return {"package": package, "version": version, "status": row.status, "noop": True}
        raise ConflictError(
            f"{package} is at {row.version} here, not {from_version}: request the upgrade again",
            code="version-changed",
        )
    check_dependencies(session, manifest)
    emit_event(ctx, "upgrade", "started", from_version=from_version, version=version)
    hook = hook_context(ctx, manifest, public)
    call_hook(
        manifest,
        "upgrade",
        lambda: ctx.registry.call_upgrade(package, hook, from_version, version),
    )
    report = provision(
        session, manifest, actor=str(ctx.directive.actor), directive_id=ctx.directive.id
    )
    state.save(
        session,
        row,
        version=version,
        config=public,
        secret_refs=refs,
        config_checksum=checksum,
        manifest=state.manifest_json(manifest),
        directive_id=ctx.directive.id,
        error=None,
    )
    secret_store.prune(session, package, keep=refs.values())
    emit_event(
        ctx,
        "upgrade",
        "completed",
        from_version=from_version,
        version=version,
        config_checksum=checksum,
        secret_fields=sorted(refs),
        records_created=len(report.created),
    )
    return {
        "package": package,
        "from_version": from_version,
        "version": version,
        "status": row.status,
        "provisioned": report.created,
    }
