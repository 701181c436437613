"""``fleetprompt install|upgrade|uninstall|enable|disable``: package lifecycle in a tenant.

Each command plans first (every check that needs no package code), then requests one
directive per step. ``--wait`` runs them here and now (embedded mode); without it a
``fleetprompt worker`` runs them. ``--dry-run`` prints the plan and changes nothing.
Secret config values are never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fleetprompt_host.cli.db_cmd import actor_option, emit_json, open_database, resolve_actor

if TYPE_CHECKING:
    from fleetprompt_host.installations.plan import Plan
    from fleetprompt_host.installations.planner import ConfigInput, Planner
    from fleetprompt_host.installations.rollout import RolloutReport

F = TypeVar("F", bound=Callable[..., Any])


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


tenant_option = click.option(
    "--tenant", "slug", default=None, envvar="FLEETPROMPT_TENANT", help="Tenant slug."
)
common_options = _options(
    click.option("--wait", is_flag=True, help="Run the directives now, in this process."),
    click.option("--dry-run", is_flag=True, help="Print the plan; change nothing."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
    actor_option,
)
config_options = _options(
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Config file: JSON, or TOML when it ends in .toml.",
    ),
    click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set one config field."),
    click.option("--with-deps", is_flag=True, help="Install missing dependencies first."),
    click.option("--all-tenants", is_flag=True, help="Do it in every tenant (resumable on rerun)."),
)


def _config(
    config_file: Path | None, sets: tuple[str, ...], unsets: tuple[str, ...] = ()
) -> ConfigInput:
    from fleetprompt_host.installations.config import load_config_file
    from fleetprompt_host.installations.planner import ConfigInput

    data = load_config_file(config_file) if config_file is not None else None
    return ConfigInput(file=data, sets=sets, unsets=unsets)


def _target(slug: str | None, all_tenants: bool = False) -> None:
    from fleetprompt_sdk.errors import UsageError

    if all_tenants and slug:
        raise UsageError("give --tenant or --all-tenants, not both")
    if not all_tenants and not slug:
        raise UsageError("which tenant? give --tenant SLUG (or --all-tenants)")


def _run(
    ctx: click.Context,
    slug: str | None,
    build: Callable[[Planner], Plan],
    *,
    actor: str | None,
    wait: bool,
    dry_run: bool,
    as_json: bool,
    needs_key: bool = False,
    all_tenants: bool = False,
) -> None:
    import fleetprompt_host.installations  # noqa: F401 - registers the directive types
    from fleetprompt_host.discovery import discover
    from fleetprompt_host.installations.requests import Operation, operate

    who = resolve_actor(actor)
    database = open_database(ctx)
    try:
        registry = discover()
        if all_tenants:
            report = _rollout(database, registry, build, who, wait, dry_run, needs_key, as_json)
            _print_rollout(report, as_json)
            if report.failed:
                ctx.exit(1)
            return
        assert slug is not None
        op = Operation(slug, who, build, dry_run=dry_run, wait=wait, needs_key=needs_key)
        plan = operate(database, registry, op)
    finally:
        database.close()
    _print_plan(plan, as_json, wait)
    from fleetprompt_host.host import raise_for_failure

    raise_for_failure(plan)


def _rollout(
    database: Any,
    registry: Any,
    build: Callable[[Planner], Plan],
    who: str,
    wait: bool,
    dry_run: bool,
    needs_key: bool,
    as_json: bool,
) -> RolloutReport:
    from fleetprompt_host.installations.rollout import rollout

    bar: Any = None

    def on_start(count: int) -> None:
        nonlocal bar
        if count and not as_json:
            bar = click.progressbar(length=count, label="tenants", file=sys.stderr)
            bar.__enter__()

    def on_tenant(outcome: Any) -> None:
        if bar is not None:
            bar.update(1, outcome.tenant)

    try:
        return rollout(
            database,
            registry,
            build,
            actor=who,
            wait=wait,
            needs_key=needs_key,
            dry_run=dry_run,
            on_start=on_start,
            on_tenant=on_tenant,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _print_rollout(report: RolloutReport, as_json: bool) -> None:
    if as_json:
        emit_json({"tenants": [t.to_json() for t in report.tenants]})
        return
    kinds = ("done", "requested", "skipped", "planned", "not-installed")
    parts = [f"{report.count(k)} {k}" for k in kinds if report.count(k)]
    click.echo(f"tenants: {', '.join([*parts, f'{len(report.failed)} failed'])}")
    for failure in report.failed:
        error = failure.error or {}
        click.echo(
            f"error: tenant {failure.tenant!r}: {error.get('message')} [{error.get('code')}]",
            err=True,
        )


def _print_plan(plan: Plan, as_json: bool, wait: bool) -> None:
    if as_json:
        emit_json(plan.to_json())
        return
    if plan.dry_run:
        click.echo("\n".join(plan.lines()))
        return
    for step in plan.steps:
        if step.noop:
            click.echo(f"{step.headline()}: nothing to do ({step.noop})")
            continue
        verb = "requested" if step.created else "already requested"
        state = step.status if wait else verb
        click.echo(f"{step.headline()}: {state} (directive {step.directive_id})")
    if plan.pending and not wait:
        click.echo("run `fleetprompt worker` to carry it out, or pass --wait next time")


@click.command("install")
@click.argument("package", metavar="PACKAGE[==VERSION]")
@tenant_option
@config_options
@common_options
@click.pass_context
def install(
    ctx: click.Context,
    package: str,
    slug: str | None,
    config_file: Path | None,
    sets: tuple[str, ...],
    with_deps: bool,
    all_tenants: bool,
    wait: bool,
    dry_run: bool,
    as_json: bool,
    actor: str | None,
) -> None:
    """Install PACKAGE into a tenant, with its config (and its dependencies)."""
    _target(slug, all_tenants)
    config = _config(config_file, sets)
    _run(
        ctx,
        slug,
        lambda p: p.install(package, config, with_deps=with_deps),
        actor=actor,
        wait=wait,
        dry_run=dry_run,
        as_json=as_json,
        needs_key=True,
        all_tenants=all_tenants,
    )


@click.command("upgrade")
@click.argument("package", metavar="PACKAGE[==VERSION]")
@tenant_option
@config_options
@click.option("--unset", "unsets", multiple=True, metavar="KEY", help="Remove a config field.")
@common_options
@click.pass_context
def upgrade(
    ctx: click.Context,
    package: str,
    slug: str | None,
    config_file: Path | None,
    sets: tuple[str, ...],
    with_deps: bool,
    all_tenants: bool,
    unsets: tuple[str, ...],
    wait: bool,
    dry_run: bool,
    as_json: bool,
    actor: str | None,
) -> None:
    """Upgrade PACKAGE to the version this host has, or change its config."""
    _target(slug, all_tenants)
    config = _config(config_file, sets, unsets)
    _run(
        ctx,
        slug,
        lambda p: p.upgrade(package, config, with_deps=with_deps),
        actor=actor,
        wait=wait,
        dry_run=dry_run,
        as_json=as_json,
        needs_key=True,
        all_tenants=all_tenants,
    )


@click.command("uninstall")
@click.argument("package")
@tenant_option
@click.option("--purge", is_flag=True, help="Also remove the records users created.")
@click.option("--cascade", is_flag=True, help="Also uninstall the packages that need it.")
@common_options
@click.pass_context
def uninstall(
    ctx: click.Context,
    package: str,
    slug: str | None,
    purge: bool,
    cascade: bool,
    wait: bool,
    dry_run: bool,
    as_json: bool,
    actor: str | None,
) -> None:
    """Remove PACKAGE from a tenant, with the records it provisioned."""
    _target(slug)
    _run(
        ctx,
        slug,
        lambda p: p.uninstall(package, purge=purge, cascade=cascade),
        actor=actor,
        wait=wait,
        dry_run=dry_run,
        as_json=as_json,
    )


def _toggle_command(action: str, summary: str) -> click.Command:
    @click.command(action, help=summary)
    @click.argument("package")
    @tenant_option
    @common_options
    @click.pass_context
    def command(
        ctx: click.Context,
        package: str,
        slug: str | None,
        wait: bool,
        dry_run: bool,
        as_json: bool,
        actor: str | None,
    ) -> None:
        _target(slug)
        _run(
            ctx,
            slug,
            lambda p: p.toggle(package, action),
            actor=actor,
            wait=wait,
            dry_run=dry_run,
            as_json=as_json,
        )

    return command


enable = _toggle_command("enable", "Enable a disabled PACKAGE: its tools and handlers return.")
disable = _toggle_command(
    "disable",
    "Disable PACKAGE: its tools leave the tool list, its handlers receive nothing, its "
    "directives are refused.",
)
