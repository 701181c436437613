"""``fleetprompt audit``: one timeline of signals, directives and executions."""

from __future__ import annotations

import click

from fleetprompt_host.cli.db_cmd import emit_json
from fleetprompt_host.cli.engine_cli import json_option, opened, short_time, tenant_option


@click.command("audit")
@tenant_option
@click.option("--correlation", default=None, metavar="ID", help="Everything of one correlation.")
@click.option("--subject", default=None, metavar="TYPE:ID", help="Everything about a subject.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Without a selector: how many of the latest entries to show.",
)
@json_option
@click.pass_context
def audit(
    ctx: click.Context,
    tenant: str,
    correlation: str | None,
    subject: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Tell the story of a unit of work, of a subject, or (no selector) of the tenant's
    latest activity, in time order."""
    from fleetprompt_host.engine.audit import timeline
    from fleetprompt_host.engine.queries import parse_subject

    parsed = parse_subject(subject) if subject else None
    with opened(ctx) as db, db.tenant_session(tenant, readonly=True) as session:
        entries = timeline(session, correlation_id=correlation, subject=parsed, limit=limit)
    if as_json:
        emit_json([e.to_json() for e in entries])
        return
    if not entries:
        what = "correlation" if correlation else "subject" if subject else "tenant"
        click.echo(f"nothing recorded for this {what}")
        return
    for entry in entries:
        click.echo(f"{short_time(entry.at)}  {entry.title}")
