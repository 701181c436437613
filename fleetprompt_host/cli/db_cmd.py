"""``fleetprompt db``: upgrade and inspect the host and tenant schemas, prune signals.

Also home of the helpers every storage command shares: :func:`open_database` and the
``--actor`` option.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from fleetprompt_host.storage import Database

F = TypeVar("F", bound=Callable[..., Any])


def open_database(ctx: click.Context, *, check_revision: bool = True) -> Database:
    """Open the database named by ``--db`` / ``FLEETPROMPT_DATABASE_URL`` / the default."""
    from fleetprompt_host.storage import Database

    state = ctx.find_root().obj
    return Database(getattr(state, "db_url", None), check_revision=check_revision)


def actor_option(func: F) -> F:
    """Add ``--actor`` (default ``FLEETPROMPT_ACTOR`` or ``user:<login name>``)."""
    return click.option(
        "--actor",
        default=None,
        metavar="KIND:NAME",
        help="Who performs the action (default: user:<your login name>).",
    )(func)


def resolve_actor(actor: str | None) -> str:
    """Return ``actor`` validated, or the default operator actor."""
    from fleetprompt_host.settings import default_actor
    from fleetprompt_sdk.models import Actor

    return str(Actor.parse(actor or default_actor()))


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.group("db")
def db() -> None:
    """Upgrade and inspect the host and tenant schemas."""


@db.command("upgrade")
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Upgrade the host schema, then every tenant (resumable; failures reported at the end)."""
    from fleetprompt_host.storage.upgrades import TenantUpgrade, upgrade_all

    database = open_database(ctx, check_revision=False)
    bar: Any = None
    failures: list[TenantUpgrade] = []

    def on_start(count: int) -> None:
        nonlocal bar
        if count:
            bar = click.progressbar(length=count, label="upgrading tenants", file=sys.stderr)
            bar.__enter__()

    def on_tenant(result: TenantUpgrade) -> None:
        if not result.ok:
            failures.append(result)
        if bar is not None:
            bar.update(1, result.slug)

    try:
        report = upgrade_all(database, on_start=on_start, on_tenant=on_tenant)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        database.close()
    host = report.host_after
    click.echo(f"host: {report.host_before or '(new)'} -> {host}")
    done = len(report.tenants) - len(failures)
    click.echo(f"tenants: {done} upgraded to {report.target}, {len(failures)} failed")
    for failure in failures:
        click.echo(f"error: tenant {failure.slug!r}: {failure.error}", err=True)
    if failures:
        ctx.exit(1)


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the host and tenant schema revisions and the tenants not at head."""
    from fleetprompt_host.storage.upgrades import status as db_status

    database = open_database(ctx, check_revision=False)
    try:
        data = db_status(database)
    finally:
        database.close()
    if as_json:
        emit_json(data)
        return
    host = data["host"]
    mark = "current" if host["current"] else "OUTDATED"
    click.echo(f"database: {data['database']}")
    click.echo(f"host: {host['revision']} (head {host['head']}, {mark})")
    click.echo(f"tenants: {len(data['tenants'])} (head {data['tenant_head']})")
    for row in data["tenants"]:
        if not row["current"]:
            error = f"  last error: {row['last_error']}" if row["last_error"] else ""
            click.echo(f"  straggler {row['slug']}: {row['revision']}{error}")
    if data["stragglers"]:
        click.echo("run `fleetprompt db upgrade` to bring the stragglers to head")


@db.command("prune-signals")
@click.option("--tenant", "slug", required=True, envvar="FLEETPROMPT_TENANT", help="Tenant slug.")
@click.option(
    "--older-than", "days", type=click.IntRange(min=1), required=True, help="Age in days."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@actor_option
@click.pass_context
def prune_signals(ctx: click.Context, slug: str, days: int, yes: bool, actor: str | None) -> None:
    """Delete a tenant's signals older than N days (the audited retention path)."""
    from datetime import timedelta

    from fleetprompt_host.storage.base import utcnow
    from fleetprompt_host.storage.retention import prune_signals as prune
    from fleetprompt_host.storage.slugs import validate_slug

    validate_slug(slug)
    who = resolve_actor(actor)
    confirm(yes, f"delete signals older than {days} days from tenant {slug!r}?")
    database = open_database(ctx)
    try:
        deleted = prune(database, slug, utcnow() - timedelta(days=days), actor=who)
    finally:
        database.close()
    click.echo(f"deleted {deleted} signals from {slug}")


def confirm(yes: bool, question: str) -> None:
    """Go on when ``--yes`` was given or the interactive user agrees; refuse otherwise."""
    from fleetprompt_sdk.errors import UsageError

    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing without --yes (not interactive): {question}")
    if not click.confirm(question, default=False, err=True):
        raise click.Abort()
