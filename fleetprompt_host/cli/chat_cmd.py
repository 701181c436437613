"""``fleetprompt chat``: talk to a tenant's installed packages.

With ``-m MESSAGE`` it answers once; without, it is an interactive REPL (``/exit`` or
Ctrl-D to leave). ``--json-events`` prints one JSON event per line (the vocabulary of
:mod:`fleetprompt_host.chat.events`) instead of text. litellm is imported only when a
turn calls the model.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from fleetprompt_host.cli.db_cmd import actor_option, resolve_actor
from fleetprompt_host.cli.engine_cli import load_registry, opened, tenant_option
from fleetprompt_host.cli.tools_runtime_cmd import (
    agent_option,
    confirmation_option,
    confirmation_policy,
    directives_option,
    inline_mode,
)

if TYPE_CHECKING:
    from fleetprompt_host.chat.events import ChatEvent
    from fleetprompt_host.chat.loop import TurnResult
    from fleetprompt_host.chat.model import ModelClient

PRICE_ENV = "FLEETPROMPT_MODEL_PRICE"
EXIT_WORDS = {"/exit", "/quit", "exit", "quit"}


class _HumanOutput:
    """Prints a turn for a person: text to stdout, tool activity and errors to stderr."""

    def __init__(self) -> None:
        self.mid_line = False

    def __call__(self, event: ChatEvent) -> None:
        data = event.data
        kind = event.type.value
        if kind == "chunk":
            click.echo(data["text"], nl=False)
            self.mid_line = not str(data["text"]).endswith("\n")
            return
        self._break()
        if kind == "tool_calls":
            for call in data["calls"]:
                click.secho(f"-> {call['name']} {call['arguments']}", fg="cyan", err=True)
        elif kind == "tool_result":
            click.secho(f"<- {data['name']}: {_result_line(data)}", fg="cyan", err=True)
        elif kind == "error":
            click.secho(f"error: {data['message']} [{data['code']}]", fg="red", err=True)

    def _break(self) -> None:
        if self.mid_line:
            click.echo()
            self.mid_line = False

    def end(self) -> None:
        """Finish the line after a turn."""
        self._break()


def _result_line(data: dict[str, Any]) -> str:
    if data["status"] != "ok":
        error = data.get("error") or {}
        return f"{data['status']}: {error.get('message')} [{error.get('code')}]"
    directive = data.get("directive")
    if directive is not None:
        return f"directive {directive['id']} {directive['type']} {directive['status']}"
    return "ok"


def _json_output(event: ChatEvent) -> None:
    click.echo(event.to_json())
    sys.stdout.flush()


def _price() -> tuple[float, float] | None:
    raw = os.environ.get(PRICE_ENV, "").strip()
    if not raw:
        return None
    from fleetprompt_sdk.errors import ConfigError

    try:
        inp, out = (float(x) for x in raw.split(","))
    except ValueError:
        raise ConfigError(
            f"{PRICE_ENV}={raw!r}: expected INPUT,OUTPUT in USD per million tokens",
            code="invalid-price",
        ) from None
    return inp / 1e6, out / 1e6


@click.command("chat")
@tenant_option
@agent_option
@click.option(
    "--model", default=None, help="litellm model (default: agent profile, FLEETPROMPT_MODEL)."
)
@click.option(
    "--api-base",
    default=None,
    envvar="FLEETPROMPT_API_BASE",
    metavar="URL",
    help="An OpenAI-compatible server (local models, proxies).",
)
@click.option("-m", "--message", default=None, help="Answer this one message and exit.")
@click.option("--json-events", is_flag=True, help="Print one JSON event per line.")
@click.option(
    "--conversation",
    "conversation_id",
    default=None,
    metavar="ID",
    help="Continue this conversation.",
)
@actor_option
@confirmation_option
@directives_option
@click.option(
    "--max-rounds",
    type=click.IntRange(1, 100),
    default=None,
    help="Model calls per turn (default 8).",
)
@click.option("--max-turn-tokens", type=click.IntRange(1), default=None)
@click.option(
    "--daily-tokens",
    type=click.IntRange(0),
    default=None,
    help="The tenant's token budget per day (UTC).",
)
@click.option(
    "--daily-cost",
    type=click.FloatRange(0),
    default=None,
    help="The tenant's cost budget per day, in USD.",
)
@click.option("--no-stream", is_flag=True, help="Ask the model for whole replies.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for one model call.",
)
@click.pass_context
def chat(
    ctx: click.Context,
    tenant: str,
    agent: str | None,
    model: str | None,
    api_base: str | None,
    message: str | None,
    json_events: bool,
    conversation_id: str | None,
    actor: str | None,
    allow_confirmation: bool,
    directives_mode: str | None,
    max_rounds: int | None,
    max_turn_tokens: int | None,
    daily_tokens: int | None,
    daily_cost: float | None,
    no_stream: bool,
    timeout: float,
) -> None:
    """Chat with the tenant's packages: an interactive REPL, or one answer with -m."""
    from fleetprompt_host.chat.budget import ChatLimits
    from fleetprompt_host.chat.loop import ChatSession
    from fleetprompt_host.tools.runtime import default_run_inline

    who = resolve_actor(actor)
    limits = ChatLimits.from_env(
        max_rounds=max_rounds,
        max_turn_tokens=max_turn_tokens,
        daily_tokens=daily_tokens,
        daily_cost=daily_cost,
    )
    price = _price()

    def client(name: str) -> ModelClient:
        from fleetprompt_host.chat.model import LiteLLMClient, ModelSettings

        settings = ModelSettings(
            model=name,
            api_base=api_base,
            stream=not no_stream,
            timeout=timeout,
            price_per_token=price,
        )
        return LiteLLMClient(settings)

    human = _HumanOutput()
    interactive = message is None and sys.stdin.isatty()
    with opened(ctx) as db:
        inline = inline_mode(directives_mode)
        session = ChatSession(
            db,
            load_registry(),
            tenant,
            who,
            client,
            model=model,
            agent=agent,
            limits=limits,
            policy=confirmation_policy(allow_confirmation),
            run_inline=default_run_inline(db) if inline is None else inline,
            conversation_id=conversation_id,
            sink=_json_output if json_events else human,
        )
        if message is not None:
            result = session.send(message)
            human.end()
            _report(result, json_events)
            if not result.ok:
                ctx.exit(1)
            return
        _repl(session, human, json_events, interactive)


def _report(result: TurnResult, json_events: bool) -> None:
    if not json_events:
        click.echo(f"conversation {result.conversation_id}", err=True)


def _repl(session: Any, human: _HumanOutput, json_events: bool, interactive: bool) -> None:
    if interactive and not json_events:
        click.echo(f"chatting with {session.tenant} as {session.actor} (/exit to leave)", err=True)
    while True:
        try:
            text = (
                click.prompt("you", prompt_suffix="> ", err=True)
                if interactive
                else (sys.stdin.readline())
            )
        except (EOFError, click.Abort):
            break
        if not interactive and text == "":
            break
        text = text.strip()
        if not text:
            continue
        if text in EXIT_WORDS:
            break
        session.send(text)
        human.end()
    if session.conversation_id and not json_events:
        click.echo(f"conversation {session.conversation_id}", err=True)
