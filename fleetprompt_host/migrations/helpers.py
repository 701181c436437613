"""Column types and helpers frozen for migration scripts (never import live models here)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

#: JSON on SQLite, JSONB on PostgreSQL.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: A 64-bit primary key that stays SQLite's rowid alias.
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: Timezone-aware timestamps (stored as naive UTC on SQLite).
TIMESTAMP = sa.DateTime(timezone=True)


def current_schema() -> str | None:
    """Return the schema this migration runs in (``None`` on SQLite)."""
    schema = op.get_context().opts.get("fp_schema")
    return str(schema) if schema else None


def qualified(schema: str | None, name: str) -> str:
    """Return ``name`` prefixed with ``schema`` when there is one (for foreign keys)."""
    return f"{schema}.{name}" if schema else name


def quoted(schema: str | None, name: str) -> str:
    """Return ``schema.name`` quoted for the current dialect, for the few raw DDL lines."""
    preparer = op.get_context().dialect.identifier_preparer
    if schema:
        return f"{preparer.quote_schema(schema)}.{preparer.quote(name)}"
    return preparer.quote(name)
