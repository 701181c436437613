"""Opening the tool path for one unit of work: catalog, execution, dispatcher.

:func:`open_catalog` builds the tenant's tool list for an actor; :func:`call_tool` is what
``fleetprompt tools call`` (and later an HTTP or MCP endpoint) runs: one call, through
the same :class:`~.dispatch.ToolDispatcher` as the chat loop, recorded as an execution of
kind ``tool`` with one ``tool_call`` step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fleetprompt_sdk.models import Actor

from .catalog import ToolCatalog, build_catalog
from .confirmation import ConfirmationPolicy, ConfirmationRequest
from .dispatch import DispatchScope, ToolCall, ToolDispatcher
from .results import ToolResult
from .steps import ExecutionRecorder

if TYPE_CHECKING:
    from collections.abc import Callable

    from fleetprompt_host.registry import PackageRegistry
    from fleetprompt_host.storage import Database


def open_catalog(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    actor: Actor | str,
    *,
    agent: str | None = None,
) -> ToolCatalog:
    """Return the tools ``actor`` may use in ``tenant``, read afresh from the database.

    Without ``agent`` the catalog is one statement, which needs no transaction around it
    (:meth:`~fleetprompt_host.storage.Database.tenant_autocommit`: on PostgreSQL the read
    is one round trip instead of three); with one, the role, the installations and the
    agent profiles are read in one read-only transaction, so they agree.
    """
    who = actor if isinstance(actor, Actor) else Actor.parse(actor)
    if agent is None:
        with db.tenant_autocommit(tenant, write=False) as conn:
            return build_catalog(conn, registry, tenant, who)
    with db.tenant_session(tenant, readonly=True) as session:
        return build_catalog(session, registry, tenant, who, agent=agent)


def default_run_inline(db: Database) -> bool:
    """Embedded mode by default on SQLite; on PostgreSQL directives are left to workers."""
    return db.dialect == "sqlite"


@dataclass(frozen=True)
class CallOutcome:
    """A finished ``tools call``: the result and the execution that recorded it."""

    result: ToolResult
    execution_id: str
    correlation_id: str

    def to_json(self) -> dict[str, Any]:
        """Return the JSON printed by ``tools call --json``."""
        return {
            **self.result.to_event(),
            "execution_id": self.execution_id,
            "correlation_id": self.correlation_id,
        }


def call_tool(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    actor: Actor | str,
    name: str,
    arguments: str | dict[str, Any],
    *,
    agent: str | None = None,
    policy: ConfirmationPolicy | None = None,
    run_inline: bool | None = None,
    on_confirmation: Callable[[ConfirmationRequest], None] | None = None,
) -> CallOutcome:
    """Run one tool call through the full path and record it (see the module doc)."""
    who = actor if isinstance(actor, Actor) else Actor.parse(actor)
    call = ToolCall(id="cli-" + uuid.uuid4().hex[:16], name=name, arguments=arguments)
    catalog = open_catalog(db, registry, tenant, who, agent=agent)
    recorder = ExecutionRecorder(
        db, tenant, "tool", actor=str(who), summary={"tool": name, "call_id": call.id}
    )
    scope = DispatchScope(
        db=db,
        registry=registry,
        tenant=tenant,
        actor=who,
        catalog=catalog,
        execution_id=recorder.id,
        correlation_id=recorder.correlation_id,
        policy=policy or ConfirmationPolicy(),
        run_inline=default_run_inline(db) if run_inline is None else run_inline,
        on_confirmation=on_confirmation,
    )
    status = "failed"
    try:
        result = ToolDispatcher(scope, recorder).call(call)
        status = "succeeded" if result.ok else "failed"
    finally:
        recorder.finish(status)
    return CallOutcome(result, recorder.id, recorder.correlation_id)
