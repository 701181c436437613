"""``fleetprompt tools``: the tools a package's code defines."""

from __future__ import annotations

import difflib
from pathlib import Path

import click


@click.group("tools")
def tools() -> None:
    """Work with the tools a package's code defines."""


@tools.command("sync")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if the section is stale.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds allowed to import the package.",
)
@click.pass_context
def sync(ctx: click.Context, path: Path, check: bool, timeout: float) -> None:
    """Regenerate the manifest's tools section from the code (Tool.to_spec()).

    PATH is a package source directory (or its fleetprompt.json). The package is imported
    in a subprocess; only the "tools" value of the file changes, everything else is kept
    byte for byte. With --check, print the diff and exit 1 when the section is stale.
    """
    from fleetprompt_host.tools_sync import sync_tools, write

    result = sync_tools(path, timeout)
    if not result.changed:
        click.echo(f"{result.path}: tools up to date ({result.tools} tools)")
        return
    if check:
        diff = difflib.unified_diff(
            result.before.splitlines(keepends=True),
            result.after.splitlines(keepends=True),
            fromfile=f"{result.path} (manifest)",
            tofile=f"{result.path} (from code)",
        )
        click.echo("".join(diff), nl=False)
        click.echo(f"{result.path}: tools section is stale (run fleetprompt tools sync)", err=True)
        ctx.exit(1)
    write(result)
    click.echo(f"{result.path}: tools section regenerated ({result.tools} tools)")


from fleetprompt_host.cli import tools_runtime_cmd  # noqa: E402 - list and call live there

tools.add_command(tools_runtime_cmd.list_tools)
tools.add_command(tools_runtime_cmd.call)
