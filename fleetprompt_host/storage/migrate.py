"""Run the host and tenant Alembic migrations programmatically, on a given connection.

There is no ``alembic.ini``: the two script directories live in
``fleetprompt_host/migrations/{host,tenant}`` and each run is handed the connection (and so
the transaction) of its caller, which lets tenant creation put the schema, its tables and
the registry row in one transaction on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

Kind = Literal["host", "tenant"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"


@cache
def script_directory(kind: Kind, extra_locations: tuple[str, ...] = ()) -> ScriptDirectory:
    """Return the (cached) Alembic script directory of ``kind``.

    ``extra_locations`` adds version directories (tests use it to add a revision).
    """
    base = MIGRATIONS_DIR / kind
    locations = [str(base / "versions"), *extra_locations]
    return ScriptDirectory(str(base), version_locations=locations)


def head(kind: Kind, extra_locations: Sequence[str] = ()) -> str:
    """Return the head revision of ``kind``."""
    rev = script_directory(kind, tuple(extra_locations)).get_current_head()
    assert rev is not None, f"no {kind} migrations found"
    return rev


def _context(conn: Connection, schema: str | None, **opts: Any) -> MigrationContext:
    return MigrationContext.configure(
        connection=conn,
        opts={
            "version_table": VERSION_TABLE,
            "version_table_schema": schema,
            "fp_schema": schema,
            **opts,
        },
    )


def current_revision(conn: Connection, schema: str | None) -> str | None:
    """Return the revision recorded in ``schema`` (``None`` when never migrated)."""
    return _context(conn, schema).get_current_revision()


def upgrade(
    conn: Connection,
    kind: Kind,
    schema: str | None,
    target: str = "head",
    extra_locations: Sequence[str] = (),
) -> str | None:
    """Upgrade ``schema`` to ``target`` inside the caller's transaction; return the revision."""
    script = script_directory(kind, tuple(extra_locations))

    def steps(rev: Any, _context: MigrationContext) -> Any:
        return script._upgrade_revs(target, rev)

    return _run(conn, schema, steps)


def downgrade(
    conn: Connection,
    kind: Kind,
    schema: str | None,
    target: str,
    extra_locations: Sequence[str] = (),
) -> str | None:
    """Downgrade ``schema`` to ``target`` (``"base"`` drops everything); return the revision."""
    script = script_directory(kind, tuple(extra_locations))

    def steps(rev: Any, _context: MigrationContext) -> Any:
        return script._downgrade_revs(target, rev)

    return _run(conn, schema, steps)


def _run(conn: Connection, schema: str | None, fn: Any) -> str | None:
    ctx = _context(conn, schema, fn=fn)
    with Operations.context(ctx):
        ctx.run_migrations()
    return ctx.get_current_revision()
