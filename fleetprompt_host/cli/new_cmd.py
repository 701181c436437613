"""``fleetprompt new``: scaffold a package."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new")
@click.argument("name")
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package's folder.",
)
@click.option("--author", default=None, help="Author name for the manifest (default: you).")
def new(name: str, directory: Path, author: str | None) -> None:
    """Scaffold the package NAME: code, manifest, tests, README and a CI workflow.

    The result installs (pip install -e DIR), passes its own tests (python -m pytest)
    and validates (fleetprompt validate --with-code DIR) as it is.
    """
    from fleetprompt_host.scaffold import scaffold

    created = scaffold(name, directory, author=author)
    click.echo(f"created {created.root} ({created.distribution}, module {created.module})")
    for path in created.files:
        click.echo(f"  {path.relative_to(created.root)}")
    click.echo(
        "next: pip install -e " + str(created.root) + " && python -m pytest " + str(created.root)
    )
