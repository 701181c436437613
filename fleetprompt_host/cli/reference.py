"""Generate the CLI reference (``docs/cli.md``) from the click commands.

``python -m fleetprompt_host.cli.reference`` writes it; ``--check`` exits 1 when the
committed file is stale (a test runs the check).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetprompt_host.cli import main as main_module

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

HEADER = """# CLI reference

Generated from the commands by `python -m fleetprompt_host.cli.reference`; do not edit.

Every command accepts `--help`. Listing commands accept `--json`. Errors are one line on
stderr (`error: MESSAGE [code]`, see [errors.md](errors.md)); `--debug` (or
`FLEETPROMPT_DEBUG=1`) shows the traceback instead.

## Exit codes

| code | meaning |
| --- | --- |
| 0 | success |
| 1 | the command ran and found a problem (invalid manifest, failed operation) |
| 2 | usage or configuration error (bad option, invalid input) |
| 3 | not found (unknown tenant, package, directive ...) |
| 4 | conflict (already exists, idempotency key reused with other params ...) |
| 5 | permission denied (role too low) |
| 130 | interrupted |
"""


def _walk(command: click.Command, path: list[str], ctx: click.Context) -> list[str]:
    out: list[str] = []
    name = " ".join(path)
    level = "#" * min(len(path) + 1, 4)
    out.append(f"\n{level} `{name}`\n")
    with click.Context(command, info_name=path[-1], parent=ctx) as sub:
        help_text = command.get_help(sub)
    out.append("```text\n" + help_text.rstrip() + "\n```\n")
    if isinstance(command, click.Group):
        with click.Context(command, info_name=path[-1], parent=ctx) as sub:
            for child_name in command.list_commands(sub):
                child = command.get_command(sub, child_name)
                if child is not None and not child.hidden:
                    out.extend(_walk(child, [*path, child_name], sub))
    return out


def render() -> str:
    """Return the Markdown reference of every command."""
    root = main_module.cli
    # The root's context settings (e.g. ``-h``) must apply as when the CLI runs; click
    # also caches help options per command, so rendering must not depend on what ran.
    settings = {**root.context_settings, "terminal_width": 100}
    with click.Context(root, info_name="fleetprompt", **settings) as ctx:
        body = _walk(root, ["fleetprompt"], ctx)
    return HEADER + "".join(body)


def main(argv: list[str]) -> int:
    """Write docs/cli.md, or with ``--check`` report whether it is stale."""
    text = render()
    if "--check" in argv:
        current = DOC_PATH.read_text() if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is stale: run python -m fleetprompt_host.cli.reference")
            return 1
        return 0
    DOC_PATH.write_text(text)
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
