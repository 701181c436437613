"""The one tool execution path: validation, permissions, confirmation, directives, records."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import exc, select

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import (
    DirectiveRow,
    ExecutionRow,
    ExecutionStepRow,
    RecordRow,
    SignalRow,
)
from fleetprompt_host.tools.confirmation import ConfirmationPolicy, ConfirmationRequest
from fleetprompt_host.tools.dispatch import DispatchScope, ToolCall, ToolDispatcher
from fleetprompt_host.tools.results import ToolResult, arguments_hash
from fleetprompt_host.tools.runtime import CallOutcome, call_tool, open_catalog
from fleetprompt_host.tools.steps import ExecutionRecorder
from fleetprompt_sdk.errors import NotFoundError
from fleetprompt_sdk.models import Actor

Call = Callable[..., CallOutcome]


@pytest.fixture
def call(db: Database, registry: PackageRegistry, tenant: str) -> Call:
    """``call(name, args, actor=..., **options)``: one ``tools call`` in tenant acme."""

    def run(name: str, args: Any = None, actor: str = "user:alice", **kw: Any) -> CallOutcome:
        kw.setdefault("run_inline", True)
        return call_tool(db, registry, "acme", actor, name, args if args is not None else {}, **kw)

    return run


def _rows(db: Database, model: Any, tenant: str = "acme") -> list[Any]:
    with db.tenant_session(tenant, readonly=True) as session:
        return list(session.execute(select(model)).scalars())


def _notes(db: Database) -> list[RecordRow]:
    return [r for r in _rows(db, RecordRow) if r.collection == "notes"]


def _steps(db: Database, execution_id: str) -> list[ExecutionStepRow]:
    with db.tenant_session("acme", readonly=True) as session:
        return list(
            session.execute(
                select(ExecutionStepRow)
                .where(ExecutionStepRow.execution_id == execution_id)
                .order_by(ExecutionStepRow.seq)
            ).scalars()
        )


def test_a_write_tool_requests_a_directive_that_runs_inline(call: Call, db: Database) -> None:
    outcome = call("notes__add_note", {"title": "Q3 plan", "body": "ship it"})

    directive = outcome.result.directive
    assert outcome.result.ok and directive is not None
    assert directive["status"] == "succeeded" and directive["created"] is True
    assert directive["preview"] == "Add note 'Q3 plan'"
    (record,) = _notes(db)
    assert record.data == {"title": "Q3 plan", "body": "ship it"}
    (row,) = _rows(db, DirectiveRow)
    assert row.correlation_id == outcome.correlation_id == outcome.execution_id
    assert row.actor == "user:alice"
    emitted = [s for s in _rows(db, SignalRow) if s.type == "notes.note.added"]
    assert [s.correlation_id for s in emitted] == [outcome.execution_id]


def test_without_inline_runs_the_directive_is_left_requested(call: Call, db: Database) -> None:
    outcome = call("notes__add_note", {"title": "later"}, run_inline=False)

    assert outcome.result.directive is not None
    assert outcome.result.directive["status"] == "requested"
    assert _notes(db) == []


def test_a_read_tool_answers_from_tenant_data(call: Call) -> None:
    call("notes__add_note", {"title": "Budget", "body": "numbers for 2025"})

    outcome = call("notes__search", {"query": "2025"})

    assert outcome.result.ok
    assert [n["title"] for n in outcome.result.output] == ["Budget"]
    assert json.loads(outcome.result.for_model())[0]["body"] == "numbers for 2025"


@pytest.mark.parametrize(
    ("args", "path"),
    [({"query": ""}, "query"), ({"query": "x", "limit": "many"}, "limit"), ({"q": "x"}, "query")],
)
def test_invalid_arguments_become_a_result_naming_the_field(
    call: Call, args: dict[str, Any], path: str
) -> None:
    outcome = call("notes__search", args)

    error = outcome.result.error
    assert outcome.result.status == "error" and error is not None
    assert error["code"] == "tool-arguments-invalid"
    assert path in [p["path"] for p in error["problems"]]
    assert "error" in json.loads(outcome.result.for_model())


@pytest.mark.parametrize("raw", ['{"title": "x"', "[1, 2]", '"just text"'])
def test_arguments_that_are_not_a_json_object_are_refused_with_a_clear_message(
    call: Call, db: Database, raw: str
) -> None:
    outcome = call("notes__add_note", raw)

    assert outcome.result.error is not None
    assert outcome.result.error["code"] == "tool-arguments-invalid"
    assert _rows(db, DirectiveRow) == []


def test_a_tool_error_the_model_can_fix_is_a_result_and_nothing_is_requested(
    call: Call, db: Database
) -> None:
    call("notes__add_note", {"title": "dup"})

    outcome = call("notes__add_note", {"title": "dup"})

    assert outcome.result.error == {"code": "note-exists", "message": "a note titled 'dup' exists"}
    assert len(_rows(db, DirectiveRow)) == 1


def test_a_tool_that_raises_gives_an_error_result_and_an_error_step(
    call: Call, db: Database
) -> None:
    outcome = call("notes__broken")

    assert outcome.result.error is not None
    assert outcome.result.error["code"] == "tool-failed"
    assert "RuntimeError: the notes index is corrupt" in outcome.result.error["message"]
    (step,) = _steps(db, outcome.execution_id)
    assert step.kind == "tool_call" and step.error is not None
    assert step.error["code"] == "tool-failed"
    (execution,) = [e for e in _rows(db, ExecutionRow) if e.id == outcome.execution_id]
    assert execution.status == "failed" and execution.kind == "tool"


def test_a_tool_past_its_timeout_gives_an_error_result_promptly(call: Call) -> None:
    started = time.perf_counter()

    outcome = call("notes__slow", {"seconds": 1.5})

    assert time.perf_counter() - started < 2.5
    assert outcome.result.error is not None
    assert outcome.result.error["code"] == "tool-timeout"


def test_a_read_tool_cannot_request_a_directive(call: Call, db: Database) -> None:
    outcome = call("notes__sneaky")

    assert outcome.result.error is not None
    assert outcome.result.error["code"] == "read-tool-requested-directive"
    assert _rows(db, DirectiveRow) == []


def test_the_tenant_comes_from_the_host_never_from_arguments(call: Call) -> None:
    outcome = call("notes__whoami", {"tenant": "globex"}, actor="user:bob")

    assert outcome.result.output == {"tenant": "acme", "actor": "user:bob", "asked": "globex"}


def test_a_tool_that_is_not_offered_is_refused_and_its_code_never_runs(
    call: Call, db: Database, notes_pkg: ModuleType
) -> None:
    notes_pkg.install(db, "acme", "notes", status="disabled")

    outcome = call("notes__add_note", {"title": "x"})

    assert outcome.result.status == "refused"
    assert outcome.result.error is not None
    assert "package 'notes' is disabled here" in outcome.result.error["message"]
    assert _rows(db, DirectiveRow) == []
    (step,) = _steps(db, outcome.execution_id)
    assert step.error is not None and step.error["code"] == "tool-not-available"


def test_a_member_calling_an_admin_tool_anyway_is_refused(call: Call, db: Database) -> None:
    outcome = call(
        "notes__purge_notes", {}, actor="user:bob", policy=ConfirmationPolicy(allow=True)
    )

    assert outcome.result.status == "refused"
    assert _rows(db, DirectiveRow) == []


def test_a_tool_of_another_tenant_cannot_be_reached(
    db: Database, registry: PackageRegistry, notes_pkg: ModuleType, tenant: str, call: Call
) -> None:
    call("notes__add_note", {"title": "acme secret plan"})
    db.create_tenant("globex", actor="user:alice")
    notes_pkg.install(db, "globex", "memo")

    refused = call_tool(db, registry, "globex", "user:alice", "notes__search", {"query": "plan"})
    notes_pkg.install(db, "globex", "notes")
    empty = call_tool(db, registry, "globex", "user:alice", "notes__search", {"query": "plan"})

    assert refused.result.status == "refused"
    assert empty.result.ok and empty.result.output == []


# -- confirmation -----------------------------------------------------------------------


def test_a_confirmation_tool_is_refused_when_nobody_can_be_asked(call: Call, db: Database) -> None:
    outcome = call("notes__purge_notes", {"older_than_days": 7})

    assert outcome.result.status == "refused"
    assert outcome.result.error is not None
    assert outcome.result.error["code"] == "confirmation-required"
    assert "--allow-confirmation" in outcome.result.error["message"]
    assert _rows(db, DirectiveRow) == []


def test_a_declined_confirmation_requests_nothing(call: Call, db: Database) -> None:
    asked: list[ConfirmationRequest] = []

    def decline(request: ConfirmationRequest) -> bool:
        asked.append(request)
        return False

    outcome = call("notes__purge_notes", {"older_than_days": 7}, policy=ConfirmationPolicy(decline))

    assert [a.preview for a in asked] == ["Delete up to 0 notes older than 7 days"]
    assert asked[0].arguments == {"older_than_days": 7}
    assert outcome.result.error is not None
    assert outcome.result.error["code"] == "confirmation-declined"
    assert _rows(db, DirectiveRow) == []


@pytest.mark.parametrize("how", ["user", "policy"])
def test_a_confirmed_call_runs(call: Call, db: Database, how: str) -> None:
    call("notes__add_note", {"title": "old"})
    policy = ConfirmationPolicy(lambda _: True) if how == "user" else ConfirmationPolicy(allow=True)

    outcome = call("notes__purge_notes", {"older_than_days": 0}, policy=policy)

    assert outcome.result.confirmed_by == how
    assert outcome.result.directive is not None
    assert outcome.result.directive["result"] == {"deleted": 1}
    assert _notes(db) == []


def test_a_confirmation_is_bound_to_the_exact_arguments_and_used_once(
    call: Call, db: Database
) -> None:
    policy = ConfirmationPolicy()
    policy.grant("notes__purge_notes", arguments_hash({"older_than_days": 30}))

    changed = call("notes__purge_notes", {"older_than_days": 1}, policy=policy)
    same = call("notes__purge_notes", {}, policy=policy)  # the default is 30: same arguments
    again = call("notes__purge_notes", {"older_than_days": 30}, policy=policy)

    assert changed.result.status == "refused"
    assert same.result.confirmed_by == "grant"
    assert again.result.status == "refused"
    assert len(_rows(db, DirectiveRow)) == 1


# -- one execution, several calls ------------------------------------------------------------


def _dispatcher(
    db: Database, registry: PackageRegistry, recorder: ExecutionRecorder, run_inline: bool = True
) -> ToolDispatcher:
    actor = Actor.parse("user:alice")
    scope = DispatchScope(
        db=db,
        registry=registry,
        tenant="acme",
        actor=actor,
        catalog=open_catalog(db, registry, "acme", actor),
        execution_id=recorder.id,
        correlation_id=recorder.correlation_id,
        run_inline=run_inline,
    )
    return ToolDispatcher(scope, recorder)


def test_a_retried_round_finds_the_directive_it_requested_before(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    recorder = ExecutionRecorder(db, "acme", "chat", actor="user:alice")
    # Left to a worker: the retry comes before the directive ran (the tool would refuse a
    # duplicate title afterwards, which is the package's own protection).
    dispatcher = _dispatcher(db, registry, recorder, run_inline=False)
    calls = [ToolCall("call_1", "notes__add_note", '{"title": "once"}')]

    first = dispatcher.call_many(calls)
    retried = dispatcher.call_many(calls)

    assert first[0].directive is not None and retried[0].directive is not None
    assert retried[0].directive["id"] == first[0].directive["id"]
    assert retried[0].directive["created"] is False
    assert len(_rows(db, DirectiveRow)) == 1


def test_read_calls_of_one_batch_run_concurrently_and_results_keep_call_order(
    db: Database, registry: PackageRegistry, tenant: str
) -> None:
    recorder = ExecutionRecorder(db, "acme", "chat", actor="user:alice")
    dispatcher = _dispatcher(db, registry, recorder)
    calls = [
        ToolCall("a", "notes__rendezvous", "{}"),
        ToolCall("b", "notes__whoami", "{}"),
        ToolCall("c", "notes__rendezvous", "{}"),
    ]

    results: list[ToolResult] = dispatcher.call_many(calls)
    recorder.finish("succeeded")

    assert [r.call_id for r in results] == ["a", "b", "c"]
    assert [r.output for r in results][::2] == ["met", "met"]
    steps = _steps(db, recorder.id)
    assert [(s.seq, s.input["call_id"]) for s in steps] == [(1, "a"), (2, "b"), (3, "c")]
    assert steps[0].input["arguments_hash"] == arguments_hash({})
    assert steps[1].input["arguments_hash"] == arguments_hash({"tenant": ""})


def test_a_tool_that_reads_nothing_opens_no_read_only_session(
    call: Call, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions: list[bool] = []
    real = db.tenant_session

    def counting(slug: str, readonly: bool = False) -> Any:
        sessions.append(readonly)
        return real(slug, readonly=readonly)

    monkeypatch.setattr(db, "tenant_session", counting)

    whoami = call("notes__whoami")
    after_whoami = list(sessions)
    search = call("notes__search", {"query": "x"})

    assert whoami.result.ok and search.result.ok
    # The catalog and the record need no read-only session (one statement each, or a
    # write); only the tool's own reads do, and search reads its records.
    assert True not in after_whoami
    assert sessions[len(after_whoami) :].count(True) == 1


def test_the_catalog_and_a_one_statement_record_run_without_a_session_transaction(
    call: Call, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks: list[str] = []
    real_session, real_autocommit = db.tenant_session, db.tenant_autocommit

    def session(slug: str, readonly: bool = False) -> Any:
        blocks.append("read-only session" if readonly else "session")
        return real_session(slug, readonly=readonly)

    def autocommit(slug: str, *, write: bool = True) -> Any:
        blocks.append("autocommit" if write else "autocommit read")
        return real_autocommit(slug, write=write)

    monkeypatch.setattr(db, "tenant_session", session)
    monkeypatch.setattr(db, "tenant_autocommit", autocommit)

    outcome = call("notes__whoami")

    assert outcome.result.ok
    # On PostgreSQL the execution and its step are one statement; on SQLite two, in a
    # transaction.
    record = "autocommit" if db.dialect == "postgresql" else "session"
    assert blocks == ["autocommit read", record]
    (step,) = _steps(db, outcome.execution_id)
    assert step.name == "notes__whoami" and step.output["status"] == "ok"
    (execution,) = [r for r in _rows(db, ExecutionRow) if r.id == outcome.execution_id]
    assert execution.status == "succeeded" and execution.finished_at is not None


def test_a_tenant_deleted_before_a_call_is_refused(call: Call, db: Database) -> None:
    call("notes__whoami")
    with Database(db.url) as other:
        other.delete_tenant("acme")

    with pytest.raises((NotFoundError, exc.DBAPIError)):
        call("notes__whoami")
    with pytest.raises(NotFoundError):
        db.get_tenant("acme")
