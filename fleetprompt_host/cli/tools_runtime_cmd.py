"""``fleetprompt tools list|call``: a tenant's tools, and calling one the way chat does.

``tools call`` takes the same path as a model's tool call in chat (argument validation,
role and permission checks, confirmation, the directive, the execution record); only
the call id differs (``cli-...``), so every ``tools call`` is a new invocation.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from fleetprompt_host.cli.db_cmd import actor_option, emit_json, resolve_actor
from fleetprompt_host.cli.engine_cli import json_option, load_registry, opened, table, tenant_option

if TYPE_CHECKING:
    from fleetprompt_host.tools.catalog import ToolCatalog
    from fleetprompt_host.tools.confirmation import ConfirmationPolicy, ConfirmationRequest
    from fleetprompt_host.tools.results import ToolResult

agent_option = click.option(
    "--agent", default=None, metavar="NAME", help="Agent profile (NAME or PACKAGE/NAME)."
)


def directives_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--directives inline|worker`` (default: inline on SQLite, worker on PostgreSQL)."""
    return click.option(
        "--directives",
        "directives_mode",
        type=click.Choice(["inline", "worker"]),
        default=None,
        help="Run requested directives now in this process (inline), or leave them to a "
        "worker. Default: inline on SQLite, worker on PostgreSQL.",
    )(func)


def confirmation_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--yes``/``--allow-confirmation``: accept every confirmation in advance."""
    return click.option(
        "--yes",
        "--allow-confirmation",
        "allow_confirmation",
        is_flag=True,
        help="Run tools that need confirmation without asking (an explicit policy).",
    )(func)


def inline_mode(mode: str | None) -> bool | None:
    """Return ``run_inline`` for a ``--directives`` value (None: the backend's default)."""
    return None if mode is None else mode == "inline"


def ask_on_terminal(request: ConfirmationRequest) -> bool:
    """Show what a confirmation-required call will do and ask the user (stderr, stdin)."""
    args = json.dumps(request.arguments, sort_keys=True)
    click.echo(f"\n{request.name} needs your confirmation:", err=True)
    click.echo(f"  {request.preview}", err=True)
    click.echo(f"  arguments: {args}", err=True)
    return click.confirm("Run it?", default=False, err=True)


def confirmation_policy(allow: bool, *, interactive: bool | None = None) -> ConfirmationPolicy:
    """The policy for a CLI command: the flag, else ask when stdin is a terminal."""
    from fleetprompt_host.tools.confirmation import ConfirmationPolicy

    can_ask = sys.stdin.isatty() if interactive is None else interactive
    return ConfirmationPolicy(ask_on_terminal if can_ask and not allow else None, allow=allow)


def _entry_json(catalog: ToolCatalog, name: str) -> dict[str, Any]:
    entry = catalog.entries[name]
    return {
        "name": name,
        "package": entry.package,
        "effect": entry.effect.value,
        "requires_confirmation": entry.requires_confirmation,
        "required_role": entry.required_role.value,
        "directive": entry.spec.directive,
        "description": entry.spec.description,
        "parameters": entry.spec.parameters,
    }


@click.command("list")
@tenant_option
@agent_option
@actor_option
@click.option("--withheld", is_flag=True, help="Also list known tools not offered, and why.")
@json_option
@click.pass_context
def list_tools(
    ctx: click.Context,
    tenant: str,
    agent: str | None,
    actor: str | None,
    withheld: bool,
    as_json: bool,
) -> None:
    """List the tools the actor (and agent profile) may use in the tenant."""
    from fleetprompt_host.tools.runtime import open_catalog

    who = resolve_actor(actor)
    with opened(ctx) as db:
        catalog = open_catalog(db, load_registry(), tenant, who, agent=agent)
    names = sorted(catalog.entries)
    if as_json:
        data: dict[str, Any] = {"tools": [_entry_json(catalog, n) for n in names]}
        if withheld:
            data["withheld"] = [
                {"name": n, "reason": catalog.refusal(n)} for n in sorted(catalog.withheld)
            ]
            data["unavailable_packages"] = dict(sorted(catalog.unavailable.items()))
        emit_json(data if withheld else data["tools"])
        return
    if not names:
        click.echo(f"no tools available to {who} in {tenant}")
    else:
        rows = []
        for name in names:
            entry = catalog.entries[name]
            flags = entry.effect.value + (", confirm" if entry.requires_confirmation else "")
            summary = entry.spec.description.strip().splitlines()[0]
            rows.append((name, flags, entry.required_role.value, summary))
        table(rows, ["TOOL", "EFFECT", "ROLE", "DESCRIPTION"])
    if withheld:
        for name in sorted(catalog.withheld):
            click.echo(f"withheld {catalog.refusal(name)}")
        for package, reason in sorted(catalog.unavailable.items()):
            click.echo(f"unavailable {package}: {reason}")


@click.command("call")
@click.argument("name")
@tenant_option
@click.option("--args", "arguments", default="{}", metavar="JSON", help="Arguments (an object).")
@agent_option
@actor_option
@confirmation_option
@directives_option
@json_option
@click.pass_context
def call(
    ctx: click.Context,
    name: str,
    tenant: str,
    arguments: str,
    agent: str | None,
    actor: str | None,
    allow_confirmation: bool,
    directives_mode: str | None,
    as_json: bool,
) -> None:
    """Call tool NAME (package__tool) with --args, through the same path as chat.

    Exit status 1 when the tool returned an error or was refused.
    """
    from fleetprompt_host.tools.runtime import call_tool

    who = resolve_actor(actor)
    with opened(ctx) as db:
        outcome = call_tool(
            db,
            load_registry(),
            tenant,
            who,
            name,
            arguments,
            agent=agent,
            policy=confirmation_policy(allow_confirmation),
            run_inline=inline_mode(directives_mode),
        )
    if as_json:
        emit_json(outcome.to_json())
    else:
        _print_result(outcome.result, outcome.execution_id)
    if not outcome.result.ok:
        ctx.exit(1)


def _print_result(result: ToolResult, execution_id: str) -> None:
    if not result.ok:
        error = result.error or {}
        click.echo(f"error: {error.get('message')} [{error.get('code')}]", err=True)
        for problem in error.get("problems") or []:
            click.echo(f"  {problem['path'] or '(arguments)'}: {problem['message']}", err=True)
    elif result.directive is not None:
        d = result.directive
        click.echo(f"directive {d['id']} ({d['type']}): {d['status']}")
        if d.get("preview"):
            click.echo(f"  {d['preview']}")
        if d.get("result") is not None:
            click.echo(f"  result: {json.dumps(d['result'], sort_keys=True)}")
        if d.get("error") is not None:
            click.echo(f"  error: {d['error'].get('message')} [{d['error'].get('code')}]")
    else:
        click.echo(json.dumps(result.output, indent=2, sort_keys=True, default=str))
    click.echo(f"execution {execution_id}", err=True)
