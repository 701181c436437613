"""``fleetprompt info``: where FleetPrompt keeps its data and what state it is in."""

from __future__ import annotations

from typing import Any

import click

from fleetprompt_host.cli.db_cmd import emit_json, open_database


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """Show the version, home directory, database (password masked) and schema state."""
    from fleetprompt_host import __version__
    from fleetprompt_host.settings import home_dir, mask_url, resolve_database_url
    from fleetprompt_host.storage import migrate

    url = resolve_database_url(getattr(ctx.find_root().obj, "db_url", None))
    data: dict[str, Any] = {
        "version": __version__,
        "home": str(home_dir()),
        "database": mask_url(url),
    }
    database = open_database(ctx, check_revision=False)
    try:
        data["dialect"] = database.dialect
        data["host_revision"] = database.host_revision()
        data["host_head"] = migrate.head("host")
        data["tenant_head"] = migrate.head("tenant")
        data["tenants"] = len(database.list_tenants())
    finally:
        database.close()
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key}: {value}")
