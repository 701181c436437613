"""Every ``fleetprompt`` command shown in the docs exists, with the options it is shown with.

Invocations are taken from the code blocks and inline code of docs/*.md and the README (see
``invocations`` in conftest.py) and walked through the click tree of
``fleetprompt_host.cli.main.cli``, loading lazy subcommands through ``get_command`` as the
CLI does.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from fleetprompt_host.cli.main import cli

from .conftest import DOCS, Invocation, invocations, parse_page

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_HELP = {"-h", "--help"}


def _option_names(command: click.Command) -> dict[str, click.Option]:
    names: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                names[name] = param
    return names


def _takes_value(option: click.Option) -> bool:
    return not (option.is_flag or option.count)


def problems_of(words: tuple[str, ...]) -> list[str]:
    """Return what is wrong with ``fleetprompt WORDS``: unknown commands and options.

    Square brackets (``[--json]``) are read as optional parts. A word that cannot be a
    command name (``<group>``, ``COMMAND``) ends the check: the docs are describing syntax.
    """
    problems: list[str] = []
    command: click.Command = cli
    ctx = click.Context(cli, info_name="fleetprompt")
    path = ["fleetprompt"]
    position_open = True  # a group still expects its subcommand
    skip_value = False
    for raw in words:
        word = raw.strip("[]")
        if skip_value:
            skip_value = False
            continue
        if word.startswith("-") and word not in ("-", "--"):
            name = word.split("=", 1)[0]
            options = _option_names(command)
            if name in _HELP or (name == "--version" and command is cli):
                continue
            if name not in options:
                problems.append(f"`{' '.join(path)}` has no option {name}")
                continue
            skip_value = "=" not in word and _takes_value(options[name])
            continue
        if not (isinstance(command, click.Group) and position_open):
            continue  # an argument of a command: not checked
        if not _NAME.match(word):
            break
        sub = command.get_command(ctx, word)
        if sub is None:
            problems.append(f"`{' '.join(path)}` has no subcommand {word!r}")
            break
        path.append(word)
        ctx = click.Context(sub, parent=ctx, info_name=word)
        command = sub
        position_open = isinstance(sub, click.Group)
    return problems


def test_each_command_shown_in_the_docs_exists_with_its_options(invocation: Invocation) -> None:
    problems = problems_of(invocation.words)
    assert not problems, f"{invocation.id}: fleetprompt {' '.join(invocation.words)}: {problems}"


def test_the_docs_show_the_operations_commands_that_operators_need() -> None:
    shown = {
        " ".join(call.words[:2])
        for call in invocations(parse_page(DOCS / "operations.md"))
        if call.words
    }
    for expected in ("db upgrade", "db status", "db prune-signals", "secrets rotate-key"):
        assert expected in shown, f"docs/operations.md shows no `fleetprompt {expected}`"
    assert any(words.startswith("worker") for words in shown)


def test_a_made_up_command_subcommand_or_option_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    page.write_text(
        "Run this:\n\n```console\n"
        "$ fleetprompt frobnicate --tenant acme\n"
        "$ fleetprompt db vacuum\n"
        "$ fleetprompt signals list --tenant acme --colour\n"
        "$ FLEETPROMPT_HOME=/tmp/x fleetprompt info --json && fleetprompt --db URL tenants list\n"
        "output fleetprompt lines without a prompt are not commands\n"
        "```\n\n"
        "In prose, `fleetprompt tenants remove acme` is checked too; `fleetprompt_host` is not.\n",
        encoding="utf-8",
    )
    calls = invocations(parse_page(page))
    assert [c.words[:2] for c in calls] == [
        ("frobnicate", "--tenant"),
        ("db", "vacuum"),
        ("signals", "list"),
        ("info", "--json"),
        ("--db", "URL"),
        ("tenants", "remove"),
    ]
    found = [problems_of(c.words) for c in calls]
    assert found == [
        ["`fleetprompt` has no subcommand 'frobnicate'"],
        ["`fleetprompt db` has no subcommand 'vacuum'"],
        ["`fleetprompt signals list` has no option --colour"],
        [],
        [],
        ["`fleetprompt tenants` has no subcommand 'remove'"],
    ]


def test_syntax_placeholders_and_continued_lines_are_read_as_such(tmp_path: Path) -> None:
    page = tmp_path / "syntax.md"
    page.write_text(
        "```\n"
        "fleetprompt <group> --help\n"
        "fleetprompt tools call crm__create_contact --tenant acme \\\n"
        '    --args \'{"name": "Ada"}\' [--json]\n'
        "fleetprompt members add MEMBER --tenant SLUG [--role owner|admin|member]\n"
        "```\n",
        encoding="utf-8",
    )
    calls = invocations(parse_page(page))
    assert len(calls) == 3
    assert calls[1].words[-2:] == ('{"name": "Ada"}', "[--json]")
    assert [problems_of(c.words) for c in calls] == [[], [], []]
