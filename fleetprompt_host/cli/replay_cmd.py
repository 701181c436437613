"""``fleetprompt executions replay ID``: re-run a recorded chat turn with no network.

The recorded model replies are used as they are; read tools run again against today's
tenant data; write tools are not run again. The command exits 1 when today's tool
results, tool contracts or system prompt differ from the recording, so package authors
can use recorded conversations as regression checks.
"""

from __future__ import annotations

import json

import click

from fleetprompt_host.cli.db_cmd import emit_json
from fleetprompt_host.cli.engine_cli import json_option, load_registry, opened, tenant_option


@click.command("replay")
@click.argument("execution_id", metavar="ID")
@tenant_option
@click.option("--json-events", is_flag=True, help="Print the replay's chat events, one per line.")
@json_option
@click.pass_context
def replay(
    ctx: click.Context, execution_id: str, tenant: str, json_events: bool, as_json: bool
) -> None:
    """Replay chat execution ID against its recorded model replies (no network).

    Exit status 1 when anything differs from the recording.
    """
    from fleetprompt_host.chat.events import ChatEvent, discard
    from fleetprompt_host.chat.replay import replay_execution

    def print_event(event: ChatEvent) -> None:
        click.echo(event.to_json())

    with opened(ctx) as db:
        report = replay_execution(
            db, load_registry(), tenant, execution_id, sink=print_event if json_events else discard
        )
    if as_json:
        emit_json(report.to_json())
    elif not json_events:
        _print(report)
    if not report.matches:
        ctx.exit(1)


def _print(report: object) -> None:
    from fleetprompt_host.chat.replay import ReplayReport

    assert isinstance(report, ReplayReport)
    click.echo(
        f"replay of execution {report.execution_id} ({report.model}, {report.rounds} rounds)"
    )
    for change in report.schema_changes:
        click.echo(f"  tool {change}")
    if report.prompt_changed:
        click.echo("  system prompt: differs from the recording")
    for call in report.calls:
        verdict = "same" if call.same else "DIFFERS"
        how = "re-run" if call.replayed else "recorded"
        click.echo(f"  round {call.round} {call.name} ({how}): {verdict}")
        if call.note and not call.same:
            click.echo(f"      {call.note}")
        if call.replayed and not call.same:
            click.echo(f"      recorded: {json.dumps(call.recorded, sort_keys=True)[:300]}")
            click.echo(f"      today:    {json.dumps(call.today, sort_keys=True)[:300]}")
    if report.matches:
        click.echo("no differences")
    else:
        click.echo(f"{report.differences} difference(s)")
