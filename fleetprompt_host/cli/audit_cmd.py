"""``fleetprompt audit``: one timeline of signals, directives and executions."""

from __future__ import annotations

import click

from fleetprompt_host.cli.db_cmd import emit_json
from fleetprompt_host.cli.engine_cli import json_option, opened, short_time, tenant_option


@click.command("audit")
@tenant_option
@click.option("--correlation", default=None, metavar="ID", help="Everything of one correlation.")
@click.option("--subject", default=None, metavar="TYPE:ID", help="Everything about a subject.")
@json_option
@click.pass_context
def audit(
    ctx: click.Context, tenant: str, correlation: str | None, subject: str | None, as_json: bool
) -> None:
    """Tell the story of a unit of work (or of a subject) in time order."""
    from fleetprompt_host.engine.audit import timeline
    from fleetprompt_host.engine.queries import parse_subject
    from fleetprompt_sdk.errors import UsageError

    if (correlation is None) == (subject is None):
        raise UsageError("audit needs exactly one of --correlation or --subject", code="usage")
    parsed = parse_subject(subject) if subject else None
    with opened(ctx) as db, db.tenant_session(tenant, readonly=True) as session:
        entries = timeline(session, correlation_id=correlation, subject=parsed)
    if as_json:
        emit_json([e.to_json() for e in entries])
        return
    if not entries:
        click.echo("nothing recorded for this " + ("correlation" if correlation else "subject"))
        return
    for entry in entries:
        click.echo(f"{short_time(entry.at)}  {entry.title}")
