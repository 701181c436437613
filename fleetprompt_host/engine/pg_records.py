"""PostgreSQL: write many execution records and their steps in one statement.

A group of directives (:mod:`.group_runner`) ends with an execution per directive. As an
executemany they would be one long multi-row INSERT per table, parsed and planned afresh
for every group size; here each column travels as one array and the server zips the
arrays back into rows (``unnest``), so the statement text never changes: psycopg parses
it once and the server prepares it once. The rows are those the Core INSERTs would write
(JSON ``null`` for absent documents, as the JSON columns store ``None``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import ExecutionRow, ExecutionStepRow

from .pg_fast import raw_connection, run

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _columns(table: Table, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Column name -> PostgreSQL type name (no length: a value too long is refused)."""
    return {
        c.name: getattr(c.type, "impl", c.type)
        .dialect_impl(_DIALECT)
        .compile(dialect=_DIALECT)
        .split("(")[0]
        for c in table.c
        if c.name not in skip
    }


_EXECUTIONS = _columns(ExecutionRow.__table__)  # type: ignore[arg-type]
_STEPS = _columns(ExecutionStepRow.__table__, skip=("id",))  # type: ignore[arg-type]
_JSON = frozenset(
    name for columns in (_EXECUTIONS, _STEPS) for name, type_ in columns.items() if type_ == "JSONB"
)


def _unnest(columns: dict[str, str]) -> str:
    return ", ".join(f"CAST(%b AS {type_}[])" for type_ in columns.values())


_INSERT = (
    f"WITH fp_executions AS (INSERT INTO {ExecutionRow.__tablename__} "
    f"({', '.join(_EXECUTIONS)}) SELECT * FROM unnest({_unnest(_EXECUTIONS)})) "
    f"INSERT INTO {ExecutionStepRow.__tablename__} ({', '.join(_STEPS)}) "
    f"SELECT * FROM unnest({_unnest(_STEPS)})"
)


def _arrays(rows: Sequence[dict[str, Any]], columns: dict[str, str]) -> list[list[Any]]:
    arrays: list[list[Any]] = []
    for name in columns:
        if name in _JSON:
            arrays.append([json.dumps(row[name], separators=(",", ":")) for row in rows])
        else:
            arrays.append([row[name] for row in rows])
    return arrays


def insert_executions(
    session: Session, executions: Sequence[dict[str, Any]], steps: Sequence[dict[str, Any]]
) -> None:
    """Insert ``executions`` and their ``steps`` (at least one) in one statement."""
    assert steps, "a group's executions have steps"
    params = _arrays(executions, _EXECUTIONS) + _arrays(steps, _STEPS)
    run(raw_connection(session), _INSERT, params)
