"""``fleetprompt demo``: the core loop, end to end, on the configured database."""

from __future__ import annotations

import os

import click


@click.command("demo")
@click.option("--tenant", default="acme", show_default=True, help="Tenant to use (created).")
@click.option("--model", default=None, help="Model for a chat turn (default: FLEETPROMPT_MODEL).")
@click.option("--api-base", default=None, help="Base URL of an OpenAI-compatible server.")
@click.pass_context
def demo(ctx: click.Context, tenant: str, model: str | None, api_base: str | None) -> None:
    """Create a tenant, install the example packages, call tools, show the audit trail.

    Safe to run again: every step is idempotent. Adds a chat turn when a model is given.
    """
    from fleetprompt_host.demo import run_demo
    from fleetprompt_host.host import Host

    with Host(ctx.obj.db_url) as host:
        click.echo(f"database: {host.db.masked_url}")
        run_demo(
            host,
            tenant,
            click.echo,
            model=model or os.environ.get("FLEETPROMPT_MODEL") or None,
            api_base=api_base,
        )
