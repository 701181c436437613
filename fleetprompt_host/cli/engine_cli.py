"""Helpers shared by the engine commands (signals, directives, executions, audit).

The database and ``--actor`` helpers come from :mod:`fleetprompt_host.cli.db_cmd`; this
module adds the package registry, time parsing, the common filter options and a small
table printer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fleetprompt_host.cli.db_cmd import open_database

if TYPE_CHECKING:
    from fleetprompt_host.engine.queries import SignalFilter
    from fleetprompt_host.registry import PackageRegistry
    from fleetprompt_host.storage import Database

F = TypeVar("F", bound=Callable[..., Any])
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def load_registry() -> PackageRegistry:
    """Return the packages of this environment (discovered once per command)."""
    from fleetprompt_host.discovery import discover

    return discover()


@contextmanager
def opened(ctx: click.Context) -> Iterator[Database]:
    """Open the database for the duration of a command."""
    database = open_database(ctx)
    try:
        yield database
    finally:
        database.close()


def tenant_option(func: F) -> F:
    """Add the required ``--tenant SLUG`` option."""
    return click.option(
        "--tenant", "tenant", required=True, metavar="SLUG", help="The tenant (organisation)."
    )(func)


def json_option(func: F) -> F:
    """Add ``--json``."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def parse_time(value: str | None, name: str) -> datetime | None:
    """Parse ISO 8601 (naive means UTC) or a relative age (``15m``, ``2h``, ``7d``)."""
    from fleetprompt_sdk.errors import InvalidInputError

    if value is None:
        return None
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"invalid {name} {value!r}: use ISO 8601 (2024-05-01T12:00:00Z) or an age "
            "such as 30m, 2h or 7d",
            code="invalid-time",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def signal_filter_options(func: F) -> F:
    """Add ``--type``, ``--subject``, ``--correlation``, ``--since`` and ``--until``."""
    for option in reversed(
        [
            click.option("--type", "type_pattern", metavar="PATTERN", help="crm.contact.*"),
            click.option("--subject", metavar="TYPE:ID", help="Signals about this subject."),
            click.option("--correlation", metavar="ID", help="Signals of this correlation id."),
            click.option("--since", metavar="TIME", help="ISO time or age (2h, 7d)."),
            click.option("--until", metavar="TIME", help="ISO time or age (exclusive)."),
        ]
    ):
        func = option(func)
    return func


def build_filter(
    type_pattern: str | None,
    subject: str | None,
    correlation: str | None,
    since: str | None,
    until: str | None,
    ids: Sequence[str] = (),
) -> SignalFilter:
    """Turn the filter options into a :class:`SignalFilter` (validating each)."""
    from fleetprompt_host.engine.queries import SignalFilter, parse_subject

    return SignalFilter(
        type_pattern=type_pattern,
        subject=parse_subject(subject) if subject else None,
        correlation_id=correlation,
        ids=tuple(ids),
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
    )


def short_time(value: datetime | str | None) -> str:
    """Return a compact UTC time for tables."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Print ``rows`` as aligned columns under ``headers`` (the last column unpadded)."""
    cells = [[str(h) for h in headers], *[["-" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers) - 1)]
    for row in cells:
        padded = [row[i].ljust(widths[i]) for i in range(len(widths))]
        click.echo("  ".join([*padded, row[-1]]).rstrip())
