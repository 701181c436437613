"""``fleetprompt executions``: the durable record of work, as readable timelines."""

from __future__ import annotations

import json
from typing import Any

import click

from fleetprompt_host.cli.db_cmd import emit_json
from fleetprompt_host.cli.engine_cli import json_option, opened, short_time, table, tenant_option


@click.group("executions")
def executions() -> None:
    """List executions and show one as a timeline of its steps."""


def _brief(value: Any, width: int = 100) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


@executions.command("list")
@tenant_option
@click.option("--kind", default=None, help="directive, delivery, replay, chat ...")
@click.option("--status", default=None, help="running, succeeded, failed, canceled")
@click.option("--correlation", default=None, metavar="ID")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@click.pass_context
def list_executions(
    ctx: click.Context,
    tenant: str,
    kind: str | None,
    status: str | None,
    correlation: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List executions, newest first."""
    from fleetprompt_host.engine.history import execution_json
    from fleetprompt_host.engine.history import list_executions as query

    with opened(ctx) as db, db.tenant_session(tenant, readonly=True) as session:
        rows = query(session, kind=kind, status=status, correlation_id=correlation, limit=limit)
        if as_json:
            emit_json([execution_json(r) for r in rows])
            return
        if not rows:
            click.echo("no executions match")
            return
        table(
            [
                (
                    r.id,
                    short_time(r.started_at),
                    r.kind,
                    (r.summary or {}).get("outcome") or r.status,
                    (r.summary or {}).get("type") or (r.summary or {}).get("handler"),
                )
                for r in rows
            ],
            ["ID", "STARTED (UTC)", "KIND", "OUTCOME", "WHAT"],
        )


@executions.command("show")
@click.argument("execution_id", metavar="ID")
@tenant_option
@json_option
@click.pass_context
def show(ctx: click.Context, execution_id: str, tenant: str, as_json: bool) -> None:
    """Show an execution as a timeline: each step with its timing, input, output, error."""
    from fleetprompt_host.engine.history import find_execution

    with opened(ctx) as db, db.tenant_session(tenant, readonly=True) as session:
        view = find_execution(session, execution_id)
        data = view.to_json()
    if as_json:
        emit_json(data)
        return
    summary = data["summary"] or {}
    what = summary.get("type") or summary.get("handler") or ""
    click.echo(f"execution {data['id']} ({data['kind']} {what})".replace(" )", ")"))
    click.echo(f"  outcome:     {data['outcome'] or data['status']}")
    click.echo(f"  actor:       {data['actor'] or '-'}")
    click.echo(f"  correlation: {data['correlation_id'] or '-'}")
    click.echo(f"  causation:   {data['causation_id'] or '-'}")
    took = summary.get("duration_ms")
    click.echo(
        f"  started:     {short_time(data['started_at'])}"
        + (f"  ({took:.1f} ms)" if isinstance(took, int | float) else "")
    )
    if summary.get("error"):
        click.echo(
            f"  error:       {summary['error'].get('message')} [{summary['error'].get('code')}]"
        )
    click.echo("steps:")
    if not data["steps"]:
        click.echo("  (none)")
    for step in data["steps"]:
        ms = f"{step['duration_ms']:.1f} ms" if step["duration_ms"] is not None else ""
        when = short_time(step["started_at"])
        click.echo(f"  {step['seq']:>3}. {when} {step['kind']:<16} {step['name']} {ms}".rstrip())
        if step["input"] is not None:
            click.echo(f"       in:  {_brief(step['input'])}")
        if step["output"] is not None:
            click.echo(f"       out: {_brief(step['output'])}")
        if step["error"] is not None:
            click.echo(
                f"       error: {step['error'].get('message')} [{step['error'].get('code')}]"
            )
        if step["tokens_in"] is not None or step["cost"] is not None:
            click.echo(
                f"       tokens: {step['tokens_in'] or 0} in / {step['tokens_out'] or 0} out, "
                f"cost {step['cost'] or 0}"
            )


from fleetprompt_host.cli.replay_cmd import replay  # noqa: E402 - chat replay lives there

executions.add_command(replay)
