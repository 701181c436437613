"""``fleetprompt signals``: list, show, tail, replay and export a tenant's signals."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import click

from fleetprompt_host.cli.db_cmd import actor_option, emit_json, resolve_actor
from fleetprompt_host.cli.engine_cli import (
    build_filter,
    json_option,
    load_registry,
    opened,
    short_time,
    signal_filter_options,
    table,
    tenant_option,
)

if TYPE_CHECKING:
    from fleetprompt_host.storage.models import SignalRow


@click.group("signals")
def signals() -> None:
    """Inspect, follow, replay and export a tenant's signals (immutable facts)."""


def _rows_table(rows: list[SignalRow]) -> None:
    table(
        [
            (
                r.seq,
                short_time(r.occurred_at),
                r.type,
                f"{r.subject_type}:{r.subject_id}" if r.subject_type else None,
                r.actor or r.source,
                (r.correlation_id or "-")[:8],
            )
            for r in rows
        ],
        ["SEQ", "OCCURRED (UTC)", "TYPE", "SUBJECT", "BY", "CORRELATION"],
    )


@signals.command("list")
@tenant_option
@signal_filter_options
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@click.pass_context
def list_signals(
    ctx: click.Context,
    tenant: str,
    type_pattern: str | None,
    subject: str | None,
    correlation: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List signals in sequence order (the first LIMIT that match)."""
    from fleetprompt_host.engine.queries import list_signals as query
    from fleetprompt_host.engine.queries import signal_json

    flt = build_filter(type_pattern, subject, correlation, since, until)
    with opened(ctx) as db, db.tenant_session(tenant, readonly=True) as session:
        rows = query(session, flt, limit=limit)
        if as_json:
            emit_json([signal_json(r) for r in rows])
        elif not rows:
            click.echo("no signals match")
        else:
            _rows_table(rows)


@signals.command("show")
@click.argument("ref", metavar="ID|SEQ")
@tenant_option
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, tenant: str, as_json: bool) -> None:
    """Show one signal (by id or seq) with its data and deliveries."""
    from fleetprompt_host.engine.history import deliveries_of, delivery_json
    from fleetprompt_host.engine.queries import get_signal, signal_json
    from fleetprompt_sdk.errors import NotFoundError

    with opened(ctx) as db, db.tenant_session(tenant, readonly=True) as session:
        row = get_signal(session, ref)
        if row is None:
            raise NotFoundError(f"signal {ref!r} does not exist", code="signal-not-found")
        data = signal_json(row)
        data["deliveries"] = [delivery_json(d) for d in deliveries_of(session, row.id)]
    if as_json:
        emit_json(data)
        return
    for key in ("id", "seq", "type", "source", "subject", "actor", "correlation_id"):
        click.echo(f"{key + ':':<16}{data[key] if data[key] is not None else '-'}")
    for key in ("causation_id", "dedupe_key", "occurred_at", "recorded_at"):
        click.echo(f"{key + ':':<16}{data[key] if data[key] is not None else '-'}")
    click.echo("data:")
    click.echo("  " + json.dumps(data["data"], indent=2, sort_keys=True).replace("\n", "\n  "))
    click.echo(f"deliveries: {len(data['deliveries'])}")
    for d in data["deliveries"]:
        replay = " (replay)" if d["replay"] else ""
        error = f" last error: {d['last_error']['code']}" if d["last_error"] else ""
        click.echo(
            f"  #{d['id']} {d['handler']}: {d['status']}, {d['attempts']} attempt(s){replay}{error}"
        )


@signals.command("tail")
@tenant_option
@signal_filter_options
@click.option("-n", "--lines", default=20, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--follow", "-f", is_flag=True, help="Keep printing new signals (Ctrl-C stops).")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.05, 60))
@json_option
@click.pass_context
def tail(
    ctx: click.Context,
    tenant: str,
    type_pattern: str | None,
    subject: str | None,
    correlation: str | None,
    since: str | None,
    until: str | None,
    lines: int,
    follow: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Print the last signals, then (with --follow) new ones as they are recorded."""
    from dataclasses import replace

    from fleetprompt_host.engine.queries import SignalFilter, signal_json
    from fleetprompt_host.engine.queries import list_signals as query

    flt = build_filter(type_pattern, subject, correlation, since, until)

    def show_rows(rows: list[SignalRow]) -> None:
        for r in rows:
            if as_json:
                click.echo(json.dumps(signal_json(r), sort_keys=True))
            else:
                subject_text = f" {r.subject_type}:{r.subject_id}" if r.subject_type else ""
                click.echo(f"#{r.seq} {short_time(r.occurred_at)} {r.type}{subject_text}")

    with opened(ctx) as db:
        with db.tenant_session(tenant, readonly=True) as session:
            rows = query(session, flt, limit=lines, last=True) if lines else []
            if not rows:
                last = query(session, SignalFilter(), limit=1, last=True)
                after = last[-1].seq if last else 0
            else:
                after = rows[-1].seq
        show_rows(rows)
        if not follow:
            return
        try:
            while True:
                with db.tenant_session(tenant, readonly=True) as session:
                    new = query(session, replace(flt, after_seq=after), limit=1000)
                if new:
                    show_rows(new)
                    after = new[-1].seq
                else:
                    time.sleep(interval)
        except KeyboardInterrupt:
            return


@signals.command("replay")
@tenant_option
@click.option("--id", "ids", multiple=True, metavar="ID", help="A signal id (repeatable).")
@signal_filter_options
@click.option("--handler", metavar="PKG[:HANDLER]", help="Only this handler (or package).")
@click.option("--all", "allow_all", is_flag=True, help="Replay every signal (no selector).")
@click.option("--dry-run", is_flag=True, help="Show what would be delivered; write nothing.")
@actor_option
@json_option
@click.pass_context
def replay(
    ctx: click.Context,
    tenant: str,
    ids: tuple[str, ...],
    type_pattern: str | None,
    subject: str | None,
    correlation: str | None,
    since: str | None,
    until: str | None,
    handler: str | None,
    allow_all: bool,
    dry_run: bool,
    actor: str | None,
    as_json: bool,
) -> None:
    """Deliver selected signals again to their handlers (new deliveries marked replay)."""
    from fleetprompt_host.engine.replay import replay_signals

    who = resolve_actor(actor)
    flt = build_filter(type_pattern, subject, correlation, since, until, ids)
    with opened(ctx) as db:
        plan = replay_signals(
            db,
            load_registry(),
            tenant,
            flt,
            actor=who,
            handler=handler,
            dry_run=dry_run,
            allow_all=allow_all,
        )
    if as_json:
        emit_json(
            {
                "dry_run": plan.dry_run,
                "signals": plan.signals,
                "deliveries": [i.to_json() for i in plan.items],
                "execution_id": plan.execution_id,
            }
        )
        return
    verb = "would create" if dry_run else "created"
    click.echo(f"{verb} {len(plan.items)} replay deliveries for {plan.signals} signals")
    for item in plan.items[:50]:
        click.echo(f"  #{item.seq} {item.type} -> {item.handler}")
    if len(plan.items) > 50:
        click.echo(f"  ... and {len(plan.items) - 50} more")


@signals.command("export")
@tenant_option
@signal_filter_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["cloudevents", "json"]),
    default="cloudevents",
    show_default=True,
    help="cloudevents: CloudEvents 1.0 JSON, one event per line.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-")
@click.pass_context
def export(
    ctx: click.Context,
    tenant: str,
    type_pattern: str | None,
    subject: str | None,
    correlation: str | None,
    since: str | None,
    until: str | None,
    fmt: str,
    output: str,
) -> None:
    """Write matching signals, one JSON object per line, in sequence order."""
    from fleetprompt_host.engine.cloudevents import to_cloudevent
    from fleetprompt_host.engine.queries import iter_signals, signal_json

    flt = build_filter(type_pattern, subject, correlation, since, until)
    count = 0
    with (
        opened(ctx) as db,
        db.tenant_session(tenant, readonly=True) as session,
        click.open_file(output, "w") as stream,
    ):
        for row in iter_signals(session, flt):
            event: dict[str, Any] = (
                to_cloudevent(row, tenant) if fmt == "cloudevents" else signal_json(row)
            )
            stream.write(json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    if output != "-":
        click.echo(f"exported {count} signals to {output}", err=True)
