"""``fleetprompt directives``: request, list, show, cancel and rerun a tenant's directives.

``--wait`` runs the directive at once in this process, through the same runner a worker
uses (embedded mode): the command prints its outcome and exits 1 if it failed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from fleetprompt_host.cli.db_cmd import actor_option, emit_json, resolve_actor
from fleetprompt_host.cli.engine_cli import (
    json_option,
    load_registry,
    opened,
    parse_time,
    short_time,
    table,
    tenant_option,
)

if TYPE_CHECKING:
    from fleetprompt_host.registry import PackageRegistry
    from fleetprompt_host.storage import Database


@click.group("directives")
def directives() -> None:
    """Request, inspect, cancel and rerun directives (controlled intent)."""


def _parse_params(text: str) -> dict[str, Any]:
    from fleetprompt_sdk.errors import InvalidInputError

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"--params is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="directive-params-not-json",
        ) from None
    if not isinstance(value, dict):
        raise InvalidInputError("--params must be a JSON object", code="directive-params-not-json")
    return value


def _show(db: Database, tenant: str, directive_id: str, as_json: bool, **extra: Any) -> str:
    from fleetprompt_host.engine.history import (
        directive_json,
        execution_json,
        executions_of,
        find_directive,
    )

    with db.tenant_session(tenant, readonly=True) as session:
        row = find_directive(session, directive_id)
        data = directive_json(row)
        data["executions"] = [execution_json(e) for e in executions_of(session, row)]
    data.update(extra)
    if as_json:
        emit_json(data)
        return str(data["status"])
    lines = [
        ("id", data["id"]),
        ("type", data["type"]),
        ("status", data["status"]),
        ("attempts", f"{data['attempts']} of {data['max_attempts']}"),
        ("actor", f"{data['actor']} ({data['role'] or 'trusted'})"),
        ("key", data["idempotency_key"]),
        ("correlation", data["correlation_id"]),
        ("causation", data["causation_id"]),
        ("requested", short_time(data["requested_at"])),
        ("run after", short_time(data["run_after"])),
        ("started", short_time(data["started_at"])),
        ("completed", short_time(data["completed_at"])),
    ]
    for key, value in lines:
        click.echo(f"{key + ':':<13}{value if value is not None else '-'}")
    click.echo(f"{'params:':<13}{json.dumps(data['params'], sort_keys=True)}")
    if data["result"] is not None:
        click.echo(f"{'result:':<13}{json.dumps(data['result'], sort_keys=True)}")
    if data["error"] is not None:
        click.echo(f"{'error:':<13}{data['error'].get('message')} [{data['error'].get('code')}]")
    if data["executions"]:
        click.echo("attempts:")
        for e in data["executions"]:
            summary = e["summary"] or {}
            click.echo(
                f"  {short_time(e['started_at'])} attempt {summary.get('attempt', '?')}: "
                f"{e['outcome'] or e['status']} (execution {e['id']})"
            )
    return str(data["status"])


def _wait(
    ctx: click.Context,
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    as_json: bool,
    created: bool,
) -> None:
    from fleetprompt_host.engine.inline import run_directive_now

    outcome = run_directive_now(db, registry, tenant, directive_id)
    note = None if outcome is not None else "not run now: not due, or held by a worker"
    status = _show(db, tenant, directive_id, as_json, created=created, note=note)
    if note and not as_json:
        click.echo(note, err=True)
    if status == "failed":
        ctx.exit(1)


@directives.command("request")
@tenant_option
@click.option("--type", "type_", required=True, metavar="TYPE", help="crm.contact.create")
@click.option("--params", default="{}", show_default=True, help="Params as a JSON object.")
@click.option("--key", default=None, help="Idempotency key (default: derived, unique per call).")
@click.option("--run-after", default=None, metavar="TIME", help="Do not run before (ISO time).")
@click.option("--max-attempts", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--correlation", default=None, metavar="ID", help="Correlation id to join.")
@click.option("--wait", is_flag=True, help="Run it now, in this process, and show the outcome.")
@actor_option
@json_option
@click.pass_context
def request(
    ctx: click.Context,
    tenant: str,
    type_: str,
    params: str,
    key: str | None,
    run_after: str | None,
    max_attempts: int,
    correlation: str | None,
    wait: bool,
    actor: str | None,
    as_json: bool,
) -> None:
    """Request a directive of TYPE with PARAMS as ACTOR."""
    from fleetprompt_host.engine.directives import DirectiveRequest
    from fleetprompt_host.engine.directives import request as do_request

    who = resolve_actor(actor)
    values = _parse_params(params)
    due = parse_time(run_after, "--run-after") if run_after else None
    registry = load_registry()
    with opened(ctx) as db:
        directive, created = do_request(
            db,
            registry,
            tenant,
            DirectiveRequest(
                type=type_,
                params=values,
                actor=who,
                key=key,
                correlation_id=correlation,
                run_after=due,
                max_attempts=max_attempts,
            ),
        )
        if wait:
            _wait(ctx, db, registry, tenant, directive.id, as_json, created)
            return
        if as_json:
            _show(db, tenant, directive.id, True, created=created)
            return
    verb = "requested" if created else "already requested (same key and params)"
    click.echo(f"{verb}: directive {directive.id} {directive.type} [{directive.status}]")
    click.echo(f"correlation: {directive.correlation_id}")


@directives.command("list")
@tenant_option
@click.option("--status", default=None, help="requested, running, succeeded, failed, canceled")
@click.option("--type", "type_pattern", default=None, metavar="PATTERN")
@click.option("--correlation", default=None, metavar="ID")
@click.option("--since", default=None, metavar="TIME", help="Requested at or after.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@click.pass_context
def list_directives(
    ctx: click.Context,
    tenant: str,
    status: str | None,
    type_pattern: str | None,
    correlation: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List directives, newest first."""
    from fleetprompt_host.engine.history import directive_json
    from fleetprompt_host.engine.history import list_directives as query

    with opened(ctx) as db, db.tenant_session(tenant, readonly=True) as session:
        rows = query(
            session,
            status=status,
            type_pattern=type_pattern,
            correlation_id=correlation,
            since=parse_time(since, "--since"),
            limit=limit,
        )
        if as_json:
            emit_json([directive_json(r) for r in rows])
            return
        if not rows:
            click.echo("no directives match")
            return
        table(
            [
                (
                    r.id,
                    short_time(r.requested_at),
                    r.status,
                    f"{r.attempts}/{r.max_attempts}",
                    r.actor,
                    r.type,
                )
                for r in rows
            ],
            ["ID", "REQUESTED (UTC)", "STATUS", "ATTEMPTS", "ACTOR", "TYPE"],
        )


@directives.command("show")
@click.argument("directive_id", metavar="ID")
@tenant_option
@json_option
@click.pass_context
def show(ctx: click.Context, directive_id: str, tenant: str, as_json: bool) -> None:
    """Show a directive, its result or error, and its attempts."""
    with opened(ctx) as db:
        _show(db, tenant, directive_id, as_json)


@directives.command("cancel")
@click.argument("directive_id", metavar="ID")
@tenant_option
@click.option("--reason", default="", help="Why (recorded in directive.canceled).")
@actor_option
@json_option
@click.pass_context
def cancel(
    ctx: click.Context,
    directive_id: str,
    tenant: str,
    reason: str,
    actor: str | None,
    as_json: bool,
) -> None:
    """Cancel a requested directive, or stop a running one from committing."""
    from fleetprompt_host.engine.directives import cancel_directive
    from fleetprompt_host.engine.history import find_directive

    who = resolve_actor(actor)
    registry = load_registry()
    with opened(ctx) as db:
        with db.tenant_session(tenant) as session:
            row = find_directive(session, directive_id)
            directive = cancel_directive(session, registry, tenant, row.id, who, reason)
        if as_json:
            _show(db, tenant, directive.id, True)
            return
    click.echo(f"directive {directive.id} is {directive.status}")


@directives.command("rerun")
@click.argument("directive_id", metavar="ID")
@tenant_option
@click.option("--max-attempts", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--wait", is_flag=True, help="Run it now, in this process, and show the outcome.")
@actor_option
@json_option
@click.pass_context
def rerun(
    ctx: click.Context,
    directive_id: str,
    tenant: str,
    max_attempts: int,
    wait: bool,
    actor: str | None,
    as_json: bool,
) -> None:
    """Run a succeeded, failed or canceled directive again (a new attempt)."""
    from fleetprompt_host.engine.directives import rerun_directive
    from fleetprompt_host.engine.history import find_directive

    who = resolve_actor(actor)
    registry = load_registry()
    with opened(ctx) as db:
        with db.tenant_session(tenant) as session:
            row = find_directive(session, directive_id)
            directive = rerun_directive(
                session, registry, tenant, row.id, who, max_attempts=max_attempts
            )
        if wait:
            _wait(ctx, db, registry, tenant, directive.id, as_json, False)
            return
        if as_json:
            _show(db, tenant, directive.id, True)
            return
    click.echo(f"directive {directive.id} requested again [{directive.status}]")
