"""``fleetprompt tenants``: create, list, show and delete tenants."""

from __future__ import annotations

import click

from fleetprompt_host.cli.db_cmd import (
    actor_option,
    confirm,
    emit_json,
    open_database,
    resolve_actor,
)


@click.group("tenants")
def tenants() -> None:
    """Create, list, show and delete tenants (organisations)."""


@tenants.command("create")
@click.argument("slug")
@click.option("--name", default=None, help="Display name (default: the slug).")
@actor_option
@click.option("--json", "as_json", is_flag=True, help="Print the new tenant as JSON.")
@click.pass_context
def create(
    ctx: click.Context, slug: str, name: str | None, actor: str | None, as_json: bool
) -> None:
    """Create tenant SLUG; the acting user becomes its owner."""
    from fleetprompt_host.storage.slugs import validate_slug

    validate_slug(slug)
    who = resolve_actor(actor)
    database = open_database(ctx)
    try:
        info = database.create_tenant(slug, name, actor=who)
    finally:
        database.close()
    if as_json:
        emit_json(info.to_json())
    else:
        click.echo(
            f"created tenant {info.slug} ({info.display_name}) at revision {info.schema_revision}"
        )


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List every tenant."""
    database = open_database(ctx)
    try:
        infos = database.list_tenants()
    finally:
        database.close()
    if as_json:
        emit_json([i.to_json() for i in infos])
        return
    if not infos:
        click.echo("no tenants")
        return
    width = max(len(i.slug) for i in infos)
    for info in infos:
        click.echo(
            f"{info.slug:<{width}}  {info.status:<8}  {info.schema_revision or '-':<8}  "
            f"{info.display_name}"
        )


@tenants.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, slug: str, as_json: bool) -> None:
    """Show one tenant."""
    database = open_database(ctx)
    try:
        info = database.get_tenant(slug)
    finally:
        database.close()
    if as_json:
        emit_json(info.to_json())
        return
    for key, value in info.to_json().items():
        click.echo(f"{key}: {value if value is not None else '-'}")


@tenants.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@actor_option
@click.pass_context
def delete(ctx: click.Context, slug: str, yes: bool, actor: str | None) -> None:
    """Delete tenant SLUG and all its data (needs owner, or a system actor)."""
    from fleetprompt_host.storage.roles import require_role
    from fleetprompt_host.storage.slugs import validate_slug
    from fleetprompt_sdk.enums import Role

    validate_slug(slug)
    who = resolve_actor(actor)
    database = open_database(ctx)
    try:
        database.get_tenant(slug)
        with database.tenant_session(slug, readonly=True) as session:
            require_role(session, who, Role.OWNER)
        confirm(yes, f"delete tenant {slug!r} and all its data?")
        database.delete_tenant(slug, actor=who)
    finally:
        database.close()
    click.echo(f"deleted tenant {slug}")
