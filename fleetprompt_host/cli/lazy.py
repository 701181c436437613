"""A click group that imports a subcommand's module only when that subcommand runs.

``fleetprompt --help`` must stay as cheap as importing click, so command modules (which
pull in SQLAlchemy, jsonschema, litellm ...) are listed by name and loaded on demand.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A group whose subcommands are given as ``{"name": ("module", "attr", "help")}``."""

    def __init__(
        self,
        *args: object,
        lazy_commands: dict[str, tuple[str, str, str]] | None = None,
        **kw: object,
    ) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr, _ = self.lazy_commands[cmd_name]
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_name}.{attr} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the table so that --help never imports a command module.
        rows = [(name, self.lazy_commands[name][2]) for name in sorted(self.lazy_commands)]
        rows += [
            (name, cmd.get_short_help_str())
            for name, cmd in sorted(self.commands.items())
            if name not in self.lazy_commands and not cmd.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))
