"""``fleetprompt members``: who holds which role in a tenant."""

from __future__ import annotations

import click

from fleetprompt_host.cli.db_cmd import actor_option, emit_json, open_database, resolve_actor

tenant_option = click.option(
    "--tenant", "slug", required=True, envvar="FLEETPROMPT_TENANT", help="Tenant slug."
)


@click.group("members")
def members() -> None:
    """Add, list and remove the members of a tenant and their roles."""


@members.command("add")
@click.argument("member")
@click.option(
    "--role",
    type=click.Choice(["owner", "admin", "member"]),
    default="member",
    show_default=True,
)
@tenant_option
@actor_option
@click.pass_context
def add(ctx: click.Context, member: str, role: str, slug: str, actor: str | None) -> None:
    """Give MEMBER (a user name, or user:/agent:NAME) ROLE in the tenant."""
    from fleetprompt_host.storage.roles import add_member, as_actor

    who = resolve_actor(actor)
    target = as_actor(member)
    database = open_database(ctx)
    try:
        with database.tenant_session(slug) as session:
            info, created = add_member(session, target, role, by=who)
    finally:
        database.close()
    verb = "added" if created else "updated"
    click.echo(f"{verb} {info.actor} as {info.role.value} in {slug}")


@members.command("list")
@tenant_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, slug: str, as_json: bool) -> None:
    """List the tenant's members, owners first."""
    from fleetprompt_host.storage.roles import list_members

    database = open_database(ctx)
    try:
        with database.tenant_session(slug, readonly=True) as session:
            infos = list_members(session)
    finally:
        database.close()
    if as_json:
        emit_json([i.to_json() for i in infos])
        return
    if not infos:
        click.echo("no members")
    for info in infos:
        click.echo(f"{info.actor:<30} {info.role.value}")


@members.command("remove")
@click.argument("member")
@tenant_option
@actor_option
@click.pass_context
def remove(ctx: click.Context, member: str, slug: str, actor: str | None) -> None:
    """Remove MEMBER from the tenant."""
    from fleetprompt_host.storage.roles import as_actor, remove_member

    who = resolve_actor(actor)
    target = as_actor(member)
    database = open_database(ctx)
    try:
        with database.tenant_session(slug) as session:
            remove_member(session, target, by=who)
    finally:
        database.close()
    click.echo(f"removed {target} from {slug}")
