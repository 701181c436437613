"""The ``fleetprompt`` command: a lazy group, one module per command group.

Exit codes: 0 success; 1 the command ran and found a problem (invalid manifest, failed
operation); 2 usage or configuration error; 3 not found; 4 conflict; 5 permission denied;
130 interrupted.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from fleetprompt_host import __version__
from fleetprompt_host.cli.lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": (
        "fleetprompt_host.cli.validate_cmd",
        "validate",
        "Validate package manifests (directories, manifest files, wheels, sdists).",
    ),
    "tools": ("fleetprompt_host.cli.tools_cmd", "tools", "List, call and sync typed tools."),
    "chat": ("fleetprompt_host.cli.chat_cmd", "chat", "Chat with a tenant's installed packages."),
    "packages": (
        "fleetprompt_host.cli.packages_cmd",
        "packages",
        "List and inspect the packages discovered in this environment.",
    ),
    "tenants": (
        "fleetprompt_host.cli.tenants_cmd",
        "tenants",
        "Create, list, show and delete tenants.",
    ),
    "members": ("fleetprompt_host.cli.members_cmd", "members", "Manage tenant members and roles."),
    "db": ("fleetprompt_host.cli.db_cmd", "db", "Upgrade and inspect database schemas."),
    "info": ("fleetprompt_host.cli.info_cmd", "info", "Show the home, database and schema state."),
    "worker": ("fleetprompt_host.cli.worker_cmd", "worker", "Run directives and deliveries."),
    "signals": ("fleetprompt_host.cli.signals_cmd", "signals", "Inspect and replay signals."),
    "directives": ("fleetprompt_host.cli.directives_cmd", "directives", "Manage directives."),
    "executions": ("fleetprompt_host.cli.executions_cmd", "executions", "Records of work done."),
    "audit": ("fleetprompt_host.cli.audit_cmd", "audit", "One timeline of what happened and why."),
    "install": ("fleetprompt_host.cli.install_cmd", "install", "Install a package into a tenant."),
    "upgrade": ("fleetprompt_host.cli.install_cmd", "upgrade", "Upgrade or reconfigure a package."),
    "uninstall": ("fleetprompt_host.cli.install_cmd", "uninstall", "Remove a package."),
    "enable": ("fleetprompt_host.cli.install_cmd", "enable", "Enable a disabled package."),
    "disable": ("fleetprompt_host.cli.install_cmd", "disable", "Disable a package in a tenant."),
    "installations": (
        "fleetprompt_host.cli.installations_cmd",
        "installations",
        "List and show the packages installed in a tenant.",
    ),
    "secrets": ("fleetprompt_host.cli.secrets_cmd", "secrets", "The key that encrypts secrets."),
    "new": ("fleetprompt_host.cli.new_cmd", "new", "Scaffold a new package."),
    "demo": ("fleetprompt_host.cli.demo_cmd", "demo", "Run the core loop end to end."),
}


class CliState:
    """Options of the top-level group, handed to every subcommand."""

    def __init__(self, debug: bool, db_url: str | None) -> None:
        self.debug = debug
        self.db_url = db_url


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="fleetprompt")
@click.option("--debug", is_flag=True, envvar="FLEETPROMPT_DEBUG", help="Show tracebacks.")
@click.option(
    "--db",
    "db_url",
    envvar="FLEETPROMPT_DATABASE_URL",
    default=None,
    help="Database URL (default: SQLite under FLEETPROMPT_HOME).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, db_url: str | None) -> None:
    """FleetPrompt: deploy agentic packages into organisations and audit what they do."""
    ctx.obj = CliState(debug=debug, db_url=db_url)


def _exit_code_for(exc: BaseException) -> int:
    from fleetprompt_sdk.errors import (
        ConflictError,
        FleetPromptError,
        NotFoundError,
        PermissionDeniedError,
    )

    if isinstance(exc, NotFoundError):
        return 3
    if isinstance(exc, ConflictError):
        return 4
    if isinstance(exc, PermissionDeniedError):
        return 5
    if isinstance(exc, FleetPromptError):
        return exc.exit_code
    return 1


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI; turn known errors into one line on stderr and a documented exit code."""
    from fleetprompt_sdk.errors import FleetPromptError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("FLEETPROMPT_DEBUG", "") not in ("", "0")
    try:
        rv = cli.main(args=args, prog_name="fleetprompt", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FleetPromptError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.message} [{exc.code}]", err=True)
        sys.exit(_exit_code_for(exc))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)",
            err=True,
        )
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
