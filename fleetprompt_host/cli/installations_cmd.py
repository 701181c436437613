"""``fleetprompt installations``: what is installed in a tenant."""

from __future__ import annotations

import click

from fleetprompt_host.cli.db_cmd import emit_json, open_database

tenant_option = click.option(
    "--tenant", "slug", required=True, envvar="FLEETPROMPT_TENANT", help="Tenant slug."
)


@click.group("installations")
def installations() -> None:
    """List and inspect the packages installed in a tenant."""


@installations.command("list")
@tenant_option
@click.option("--all", "show_all", is_flag=True, help="Include uninstalled packages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, slug: str, show_all: bool, as_json: bool) -> None:
    """List the tenant's installations with status, version and config (secrets hidden)."""
    from fleetprompt_host.installations.status import list_installations

    database = open_database(ctx)
    try:
        with database.tenant_session(slug, readonly=True) as session:
            views = list_installations(session, include_uninstalled=show_all)
    finally:
        database.close()
    if as_json:
        emit_json([v.to_json() for v in views])
        return
    if not views:
        click.echo(f"nothing installed in {slug}")
        return
    width = max(len(v.info.package) for v in views)
    for view in views:
        info = view.info
        line = f"{info.package:<{width}}  {info.version:<10} {info.status:<11}"
        if view.pending:
            target = f" to {view.pending['version']}" if "version" in view.pending else ""
            line += f" ({view.pending['action']}{target} {view.pending['status']})"
        if info.error and info.status == "failed":
            line += f" {info.error.get('message')} [{info.error.get('code')}]"
        elif info.error:
            line += f" last {info.error.get('action')} failed: {info.error.get('message')}"
        click.echo(line.rstrip())


@installations.command("show")
@click.argument("package")
@tenant_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, package: str, slug: str, as_json: bool) -> None:
    """Show one installation: status, config (secrets by name only), records and tools."""
    from fleetprompt_host.installations.status import show_installation

    database = open_database(ctx)
    try:
        with database.tenant_session(slug, readonly=True) as session:
            data = show_installation(session, package)
    finally:
        database.close()
    if as_json:
        emit_json(data)
        return
    click.echo(f"{data['package']} {data['version']}: {data['status']}")
    for key in ("requested_by", "installed_at", "updated_at", "config_checksum", "directive_id"):
        click.echo(f"  {key}: {data[key] if data[key] is not None else '-'}")
    for name, value in sorted(data["config"].items()):
        click.echo(f"  config {name}: {value!r}")
    for name in data["secret_fields"]:
        click.echo(f"  config {name}: (secret, set)")
    if data["pending"]:
        click.echo(f"  pending: {data['pending']['action']} ({data['pending']['status']})")
    if data["error"]:
        click.echo(f"  last error: {data['error'].get('message')} [{data['error'].get('code')}]")
    for collection, counts in sorted(data["records"].items()):
        made, users = counts["provisioned"], counts["user"]
        click.echo(f"  records {collection}: {made} provisioned, {users} by users")
    click.echo(f"  tools: {', '.join(data['tools']) or '-'}")
    click.echo(f"  agent profiles: {', '.join(data['agent_profiles']) or '-'}")
