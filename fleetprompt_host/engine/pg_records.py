"""PostgreSQL: write execution records and their steps in one statement.

A group of directives (:mod:`.group_runner`) ends with an execution per directive, and
a tool call (:mod:`fleetprompt_host.tools.steps`) with one. For a group, each column
travels as one array and the server zips the arrays back into rows (``unnest``), so the
statement text never changes with the number of rows: psycopg parses it once and the
server prepares it once. One execution with a few steps (a tool call, a directive run
alone) goes as plain ``VALUES`` rows instead, one statement text per step count: for so
few rows, building and unpacking the arrays costs about half again the whole insert.
The rows are those the Core INSERTs would write (JSON ``null`` for absent documents, as
the JSON columns store ``None``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import ExecutionRow, ExecutionStepRow

from .jsonsafe import compact_json
from .pg_fast import pg_types, raw_connection, run

_EXECUTIONS = pg_types(ExecutionRow.__table__)  # type: ignore[arg-type]
_STEPS = pg_types(ExecutionStepRow.__table__, skip=("id",))  # type: ignore[arg-type]
_JSON = frozenset(
    name for columns in (_EXECUTIONS, _STEPS) for name, type_ in columns.items() if type_ == "JSONB"
)


def _unnest(columns: dict[str, str]) -> str:
    return ", ".join(f"CAST(%b AS {type_}[])" for type_ in columns.values())


_INSERT_EXECUTIONS = (
    f"INSERT INTO {ExecutionRow.__tablename__} ({', '.join(_EXECUTIONS)}) "
    f"SELECT * FROM unnest({_unnest(_EXECUTIONS)})"
)
# The executions ride along as a data-modifying CTE of the steps' INSERT (PostgreSQL
# checks the steps' foreign key at the end of the statement).
_INSERT_WITH_STEPS = (
    f"WITH fp_executions AS ({_INSERT_EXECUTIONS}) "
    f"INSERT INTO {ExecutionStepRow.__tablename__} ({', '.join(_STEPS)}) "
    f"SELECT * FROM unnest({_unnest(_STEPS)})"
)


#: Up to this many steps, one execution is written as ``VALUES`` rows.
MAX_VALUES_STEPS = 4


def _cast_row(columns: dict[str, str]) -> str:
    return "(" + ", ".join(f"CAST(%s AS {type_})" for type_ in columns.values()) + ")"


@functools.cache
def _values_insert(steps: int) -> str:
    """One execution and ``steps`` steps as ``VALUES`` rows (see the module doc)."""
    execution = (
        f"INSERT INTO {ExecutionRow.__tablename__} ({', '.join(_EXECUTIONS)}) "
        f"VALUES {_cast_row(_EXECUTIONS)}"
    )
    if not steps:
        return execution
    rows = ", ".join([_cast_row(_STEPS)] * steps)
    return (
        f"WITH fp_executions AS ({execution}) "
        f"INSERT INTO {ExecutionStepRow.__tablename__} ({', '.join(_STEPS)}) VALUES {rows}"
    )


def _value(row: dict[str, Any], name: str) -> Any:
    # Documents were redacted into plain JSON (depth-bounded, no cycles) by the log.
    return compact_json(row[name]) if name in _JSON else row[name]


def _flat(rows: Sequence[dict[str, Any]], columns: dict[str, str]) -> list[Any]:
    return [_value(row, name) for row in rows for name in columns]


def _arrays(rows: Sequence[dict[str, Any]], columns: dict[str, str]) -> list[list[Any]]:
    return [[_value(row, name) for row in rows] for name in columns]


def executions_insert(
    executions: Sequence[dict[str, Any]], steps: Sequence[dict[str, Any]]
) -> tuple[str, list[Any]]:
    """The statement and parameters inserting ``executions`` and their ``steps`` (rows as
    :meth:`~fleetprompt_host.engine.executions.ExecutionLog.rows` gives them, any
    number of steps, none included), for a psycopg cursor."""
    if len(executions) == 1 and len(steps) <= MAX_VALUES_STEPS:
        return _values_insert(len(steps)), _flat(executions, _EXECUTIONS) + _flat(steps, _STEPS)
    if not steps:
        return _INSERT_EXECUTIONS, _arrays(executions, _EXECUTIONS)
    return _INSERT_WITH_STEPS, _arrays(executions, _EXECUTIONS) + _arrays(steps, _STEPS)


def insert_executions(
    session: Session, executions: Sequence[dict[str, Any]], steps: Sequence[dict[str, Any]]
) -> None:
    """Insert ``executions`` and their ``steps`` in one statement, in ``session``."""
    run(raw_connection(session), *executions_insert(executions, steps))
