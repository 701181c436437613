"""``fleetprompt validate PATH...``: check package manifests before they are published.

Exit codes: 0 every manifest is valid, 1 at least one is not (or could not be read),
2 usage error (no PATH, unknown format, a PATH that does not exist).
"""

from __future__ import annotations

from pathlib import Path

import click

from fleetprompt_host.validate_report import FORMATS, RENDERERS, TargetResult


def _read(path: Path) -> tuple[TargetResult, object | None]:
    """Read one target's manifest; a read failure becomes the target's problem."""
    from fleetprompt_host.manifest_sources import from_path
    from fleetprompt_sdk.errors import ManifestError, Problem

    try:
        document = from_path(path)
    except ManifestError as exc:
        # Reader messages start with the path, which every output format shows already.
        message = (
            exc.message.split(": ", 1)[1] if exc.message.startswith(str(path)) else exc.message
        )
        return TargetResult(str(path), str(path), [Problem(exc.code, "", message)]), None
    data = document.data
    fields = data if isinstance(data, dict) else {}
    result = TargetResult(
        target=str(path),
        origin=document.origin,
        file=document.file,
        text=document.text,
        name=fields.get("name") if isinstance(fields.get("name"), str) else None,
        version=fields.get("version") if isinstance(fields.get("version"), str) else None,
    )
    return result, data


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people; json for scripts; github for workflow annotations; junit for CI.",
)
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
@click.option(
    "--with-code",
    is_flag=True,
    help="Also import each package (in a subprocess) and report drift between code and manifest.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "--code-timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds allowed to import a package for --with-code.",
)
@click.pass_context
def validate(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fmt: str,
    as_json: bool,
    with_code: bool,
    strict: bool,
    output: Path | None,
    code_timeout: float,
) -> None:
    """Validate package manifests: PATH is a package source directory, a fleetprompt.json,
    a wheel or an sdist (read without importing anything unless --with-code is given).

    Several PATHs are also checked together: dependency cycles and versions among them.
    Every problem is reported with its JSON path and a stable code (docs/errors.md).
    """
    from fleetprompt_host.validation import validate_documents

    read = [_read(path) for path in paths]
    readable = [(result, data) for result, data in read if not result.problems]
    reports = validate_documents([(data, result.origin) for result, data in readable])
    for (result, data), report in zip(readable, reports, strict=True):
        result.problems.extend(report.problems)
        if with_code:
            from fleetprompt_host.code_drift import check_code

            result.problems.extend(check_code(Path(result.target), data, code_timeout))
    results = [result for result, _ in read]
    rendered = RENDERERS["json" if as_json else fmt](results, strict)
    if output is not None:
        output.write_text(rendered, encoding="utf-8")
    else:
        click.echo(rendered, nl=False)
    ctx.exit(0 if all(r.ok(strict) for r in results) else 1)
