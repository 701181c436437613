"""The tool path's statements as SQL text on PostgreSQL store and read what the Core
statements do."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy import Table, exc, func, insert, select, update

from fleetprompt_host.engine.executions import ExecutionLog
from fleetprompt_host.engine.pg_records import MAX_VALUES_STEPS
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import ExecutionRow, ExecutionStepRow, InstallationRow
from fleetprompt_host.tools import pg_records
from fleetprompt_host.tools.steps import ExecutionRecorder
from fleetprompt_host.tools.tenant_state import _statement, read_tenant_state

_EXECUTIONS = cast(Table, ExecutionRow.__table__)
_STEPS = cast(Table, ExecutionStepRow.__table__)
_DOCUMENTS = ("input", "output", "error")


@pytest.fixture
def pg(db: Database, tenant: str) -> Database:
    """The database, on PostgreSQL only (the SQL text is PostgreSQL's)."""
    if db.dialect != "postgresql":
        pytest.skip("SQL text for PostgreSQL")
    return db


def _log(steps: int) -> ExecutionLog:
    log = ExecutionLog(kind="tool", actor="user:alice", summary={"tool": "notes__add"})
    log.correlation_id = "corr-1"
    shapes: list[dict[str, Any]] = [
        {"input": {"call_id": "c1", "arguments": {"title": "Grüße", "n": [1, 2.5, None]}}},
        {"input": None, "output": {"status": "ok", "output": None}, "tokens_in": 12},
        {"error": {"code": "tool-failed", "message": "x" * 300}, "cost": 0.25},
    ]
    for n in range(steps):
        log.step("tool_call", f"notes__step{n}", duration_ms=1.5 * n, **shapes[n % len(shapes)])
    return log


def _stored(db: Database, execution_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with db.tenant_session("acme", readonly=True) as session:
        conn = session.connection()
        execution = dict(
            conn.execute(select(_EXECUTIONS).where(_EXECUTIONS.c.id == execution_id)).one()._mapping
        )
        # jsonb_typeof tells JSON null ("null") from SQL NULL (None): both read as None.
        kinds = [func.jsonb_typeof(_STEPS.c[n]).label(f"{n}_is") for n in _DOCUMENTS]
        steps = [
            dict(row._mapping)
            for row in conn.execute(
                select(_STEPS, *kinds)
                .where(_STEPS.c.execution_id == execution_id)
                .order_by(_STEPS.c.seq)
            )
        ]
    execution.pop("id")
    for step in steps:
        step.pop("id")
        step.pop("execution_id")
    return execution, steps


# Up to MAX_VALUES_STEPS steps the rows go as VALUES, beyond as unnest arrays.
@pytest.mark.parametrize("count", [0, 1, 3, MAX_VALUES_STEPS, MAX_VALUES_STEPS + 2])
def test_an_execution_written_as_sql_text_stores_what_the_core_inserts_store(
    pg: Database, count: int
) -> None:
    execution, steps = _log(count).rows("failed", {"rounds": 2, "note": None})
    copy = {**execution, "id": "core-" + execution["id"][5:]}
    copied_steps = [{**step, "execution_id": copy["id"]} for step in steps]

    with pg.tenant_autocommit("acme") as conn:
        pg_records.insert_execution(conn, execution, steps)
    with pg.tenant_session("acme") as session:
        session.execute(insert(_EXECUTIONS), copy)
        if copied_steps:
            session.execute(insert(_STEPS), copied_steps)

    written, written_steps = _stored(pg, execution["id"])
    assert (written, written_steps) == _stored(pg, copy["id"])
    assert len(written_steps) == count
    # A document that is None is stored as JSON null, as the Core INSERT stores it.
    if count >= 2:
        assert written_steps[1]["input_is"] == "null" and written_steps[0]["error_is"] == "null"


def test_a_recorded_tool_call_reads_back_with_every_value_it_was_given(pg: Database) -> None:
    recorder = ExecutionRecorder(pg, "acme", "tool", actor="user:alice", summary={"tool": "t"})
    recorder.add("tool_call", "notes__add", input={"a": 1}, output=None, duration_ms=2.25)
    recorder.finish("succeeded", done=True)

    execution, (step,) = _stored(pg, recorder.id)
    assert execution["status"] == "succeeded" and execution["kind"] == "tool"
    assert execution["correlation_id"] == recorder.id
    assert execution["summary"]["tool"] == "t" and execution["summary"]["done"] is True
    assert execution["finished_at"] >= execution["started_at"]
    assert (step["seq"], step["kind"], step["name"]) == (1, "tool_call", "notes__add")
    assert (step["input"], step["output"], step["duration_ms"]) == ({"a": 1}, None, 2.25)
    assert (step["output_is"], step["error_is"]) == ("null", "null")


def test_a_refused_execution_write_raises_sqlalchemys_error_and_stores_nothing(
    pg: Database,
) -> None:
    execution, steps = _log(1).rows("succeeded", {})
    broken = [{**steps[0], "kind": "not-a-step-kind"}]

    with pytest.raises(exc.DBAPIError), pg.tenant_autocommit("acme") as conn:
        pg_records.insert_execution(conn, execution, broken)

    with pg.tenant_session("acme", readonly=True) as session:
        found = session.execute(
            select(_EXECUTIONS.c.id).where(_EXECUTIONS.c.id == execution["id"])
        ).all()
    assert found == []
    # The pool's connections still work afterwards.
    with pg.tenant_autocommit("acme") as conn:
        pg_records.insert_execution(conn, execution, steps)
    assert _stored(pg, execution["id"])[0]["status"] == "succeeded"


@pytest.mark.parametrize("actor", ["user:alice", "user:bob", "user:nobody"])
def test_the_tenant_state_read_as_sql_text_equals_the_core_statements(
    pg: Database, actor: str
) -> None:
    with pg.tenant_session("acme") as session:
        memo = InstallationRow.package == "memo"
        session.execute(update(InstallationRow).where(memo).values(status="disabled"))

    with pg.tenant_autocommit("acme", write=False) as conn:
        state = read_tenant_state(conn, actor)
    with pg.tenant_session("acme", readonly=True) as session:
        core = sorted(session.connection().execute(_statement(), {"actor": actor}).all())

    rows = sorted(
        [("", state.role, None)] * (state.role is not None)
        + [(p, s, v) for p, (s, v) in state.installations.items()]
    )
    assert rows == core
    assert state.inactive() == {"memo": "disabled"} and "notes" in state.active()
    assert state.role == {"user:alice": "owner", "user:bob": "member"}.get(actor)


def test_a_pooled_connection_keeps_its_cursor_and_a_replaced_one_gets_a_new_one(
    pg: Database,
) -> None:
    with pg.tenant_autocommit("acme", write=False) as conn:
        kept = pg_records.cursor(conn)
        assert pg_records.cursor(conn) is kept
        raw = conn.connection.driver_connection
        conn.invalidate()  # the pool replaces this DBAPI connection
    assert raw.closed

    with pg.tenant_autocommit("acme", write=False) as conn:
        fresh = pg_records.cursor(conn)
        rows = pg_records.tenant_state_rows(conn, "user:alice")
    assert fresh is not kept and fresh.connection is not raw
    assert ("", "owner", None) in rows
