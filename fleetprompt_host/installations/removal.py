"""The host directive handlers of ``package.uninstall``, ``package.enable`` and
``package.disable``.

Uninstall runs the package's uninstall hook, removes the records the package provisioned
(seed records, agent profiles, what its hooks wrote) and its stored secrets, and marks the
installation ``uninstalled``; records users created through its tools stay unless
``purge``. A package that other present packages depend on is refused: the CLI's
``--cascade`` uninstalls those first, each with its own directive.

Disable keeps everything but makes the package inactive: its tools leave the tenant's tool
list, signals emitted while it is disabled are not delivered to its handlers (deliveries
are skipped, not queued), and directives of its types are refused. Enable undoes that.
"""

from __future__ import annotations

from typing import Any

from fleetprompt_host.engine.contexts import HostDirectiveContext
from fleetprompt_host.registry import LoadedPackage
from fleetprompt_sdk.errors import ConflictError
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Directive

from . import secret_store, state
from .lifecycle import call_hook, emit_event, hook_context
from .provisioning import deprovision
from .requirements import PRESENT, dependents


def handle_uninstall(ctx: HostDirectiveContext, directive: Directive) -> dict[str, Any]:
    """Uninstall a package from the tenant (see module doc)."""
    params = dict(directive.params)
    session, package, purge = ctx.session, str(params["package"]), bool(params["purge"])
    row = state.get_row(session, package, lock=True)
    if row is None or row.status == "uninstalled":
        return {"package": package, "status": "uninstalled", "noop": True}
    others = {k: v for k, v in state.installed_manifests(session).items() if k != package}
    needed_by = dependents(others, package)
    if needed_by:
        raise ConflictError(
            f"{package} is needed by {', '.join(needed_by)}: uninstall them first "
            "(or pass --cascade)",
            code="package-required",
        )
    emit_event(ctx, "uninstall", "started", version=row.version, purge=purge)
    hook_ran = False
    loaded = ctx.registry.find(package)
    if row.status in PRESENT and isinstance(loaded, LoadedPackage):
        manifest = _manifest_for_hook(row.manifest, loaded.manifest)
        hook = hook_context(ctx, manifest, dict(row.config or {}))
        call_hook(manifest, "uninstall", lambda: ctx.registry.call_uninstall(package, hook, purge))
        hook_ran = True
    removed = deprovision(session, package, purge=purge)
    secret_store.prune(session, package)
    state.save(
        session,
        row,
        status="uninstalled",
        secret_refs={},
        directive_id=ctx.directive.id,
        error=None,
    )
    emit_event(
        ctx,
        "uninstall",
        "completed",
        version=row.version,
        purge=purge,
        records_removed=sum(removed.values()),
        hook_ran=hook_ran,
    )
    return {
        "package": package,
        "status": "uninstalled",
        "purge": purge,
        "records_removed": removed,
        "hook_ran": hook_ran,
    }


def _manifest_for_hook(stored: dict[str, Any] | None, current: Manifest) -> Manifest:
    """The manifest whose collections the uninstall hook may touch: the installed one."""
    if stored and stored.get("version") == current.version:
        return current
    return Manifest.model_validate(stored) if stored else current


def _toggle(ctx: HostDirectiveContext, directive: Directive, action: str) -> dict[str, Any]:
    params = dict(directive.params)
    session, package = ctx.session, str(params["package"])
    row = state.require_row(session, package, lock=True)
    want, need = ("disabled", "installed") if action == "disable" else ("installed", "disabled")
    if row.status == want:
        return {"package": package, "status": want, "noop": True}
    if row.status != need:
        raise ConflictError(
            f"{package} is {row.status} here; only an {need} package can be {action}d",
            code=f"cannot-{action}",
        )
    emit_event(ctx, action, "started", version=row.version)
    state.save(session, row, status=want, directive_id=ctx.directive.id, error=None)
    emit_event(ctx, action, "completed", version=row.version)
    return {"package": package, "status": want}


def handle_disable(ctx: HostDirectiveContext, directive: Directive) -> dict[str, Any]:
    """Disable an installed package (see module doc)."""
    return _toggle(ctx, directive, "disable")


def handle_enable(ctx: HostDirectiveContext, directive: Directive) -> dict[str, Any]:
    """Enable a disabled package again."""
    return _toggle(ctx, directive, "enable")
