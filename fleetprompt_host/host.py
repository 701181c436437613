"""``Host``: FleetPrompt embedded in a Python process (tests, notebooks, other services).

One object holds a database and the discovered packages and offers the operator's and
the model's verbs through the same code paths the CLI uses::

    host = Host("sqlite:////tmp/fp/fleetprompt.sqlite")
    host.create_tenant("acme")
    host.install("acme", "crm", wait=True)
    host.call_tool("acme", "crm__create_contact", {"name": "Ada"})
    host.run_until_idle("acme")
    host.records("acme", "crm", "contacts")

Nothing here bypasses a check: installs are directives, tools go through the dispatch
path (validation, roles, confirmation, execution records), signals through the one emit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from fleetprompt_sdk.errors import FleetPromptError
from fleetprompt_sdk.models import Actor, Directive, Record, Signal, Subject

from .registry import PackageRegistry
from .storage import Database

if TYPE_CHECKING:
    from .engine.signals import SignalInput

DEFAULT_ACTOR = "user:owner"


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call returned: the model-facing result and its execution."""

    ok: bool
    output: Any
    error: dict[str, Any] | None
    directive: dict[str, Any] | None
    execution_id: str
    correlation_id: str


def raise_for_failure(plan: Any) -> None:
    """Raise the error of the first failed step of an installation plan, if any."""
    for step in plan.pending:
        if step.status == "failed":
            error = step.error or {}
            raise FleetPromptError(
                f"{step.type} {step.package} failed: {error.get('message', 'unknown error')}",
                code=str(error.get("code", "failed")),
            )


class Host:
    """A database plus the packages of this environment, with the verbs of FleetPrompt."""

    def __init__(
        self,
        url: str | None = None,
        *,
        registry: PackageRegistry | None = None,
        packages: Sequence[str] | None = None,
    ) -> None:
        """Open the database at ``url`` and discover packages (``packages`` limits them)."""
        import fleetprompt_host.installations  # noqa: F401 - registers package.* directives
        from fleetprompt_host.discovery import discover

        self.db = Database(url)
        self.registry = registry if registry is not None else discover(enabled=packages)

    def close(self) -> None:
        """Release the database's connections."""
        self.db.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- tenants ------------------------------------------------------------------------
    def create_tenant(self, slug: str, name: str | None = None, actor: str = DEFAULT_ACTOR) -> None:
        """Create a tenant; ``actor`` becomes its owner."""
        self.db.create_tenant(slug, name or slug.title(), actor=actor)

    def add_member(self, tenant: str, user: str, role: str, actor: str = DEFAULT_ACTOR) -> None:
        """Give ``user`` (``user:NAME``) a role in the tenant."""
        from fleetprompt_host.storage import add_member

        with self.db.tenant_session(tenant) as session:
            add_member(session, user, role, by=actor)

    # -- installations ------------------------------------------------------------------
    def install(
        self,
        tenant: str,
        package: str,
        config: Mapping[str, Any] | None = None,
        *,
        actor: str = DEFAULT_ACTOR,
        with_deps: bool = False,
        wait: bool = True,
    ) -> Any:
        """Install ``package`` (``name`` or ``name==version``) with ``config``; return the plan."""
        from fleetprompt_host.installations.planner import ConfigInput

        cfg = ConfigInput(file=dict(config) if config is not None else None)
        return self._operate(
            tenant,
            actor,
            lambda p: p.install(package, cfg, with_deps=with_deps),
            wait=wait,
            needs_key=True,
        )

    def upgrade(
        self,
        tenant: str,
        package: str,
        config: Mapping[str, Any] | None = None,
        *,
        actor: str = DEFAULT_ACTOR,
        wait: bool = True,
    ) -> Any:
        """Upgrade ``package`` to the version this environment has (or ``name==version``)."""
        from fleetprompt_host.installations.planner import ConfigInput

        cfg = ConfigInput(file=dict(config) if config is not None else None)
        return self._operate(
            tenant, actor, lambda p: p.upgrade(package, cfg), wait=wait, needs_key=True
        )

    def uninstall(
        self,
        tenant: str,
        package: str,
        *,
        purge: bool = False,
        cascade: bool = False,
        actor: str = DEFAULT_ACTOR,
        wait: bool = True,
    ) -> Any:
        """Remove ``package`` from the tenant (``purge`` also removes users' records)."""
        return self._operate(
            tenant, actor, lambda p: p.uninstall(package, purge=purge, cascade=cascade), wait=wait
        )

    def _operate(
        self, tenant: str, actor: str, build: Any, *, wait: bool, needs_key: bool = False
    ) -> Any:
        from fleetprompt_host.installations.requests import Operation, operate

        plan = operate(
            self.db,
            self.registry,
            Operation(tenant, actor, build, wait=wait, needs_key=needs_key),
        )
        if wait:
            raise_for_failure(plan)
        return plan

    # -- tools --------------------------------------------------------------------------
    def tools(self, tenant: str, actor: str = DEFAULT_ACTOR, agent: str | None = None) -> list[str]:
        """Return the names of the tools ``actor`` may use in the tenant."""
        from fleetprompt_host.tools.runtime import open_catalog

        return sorted(open_catalog(self.db, self.registry, tenant, actor, agent=agent).entries)

    def call_tool(
        self,
        tenant: str,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        actor: str = DEFAULT_ACTOR,
        agent: str | None = None,
        confirm: bool = False,
        run_inline: bool | None = None,
    ) -> ToolOutcome:
        """Call tool ``name`` (``package__tool``) the way a model's tool call runs."""
        from fleetprompt_host.tools.confirmation import ConfirmationPolicy
        from fleetprompt_host.tools.runtime import call_tool

        outcome = call_tool(
            self.db,
            self.registry,
            tenant,
            actor,
            name,
            dict(arguments or {}),
            agent=agent,
            policy=ConfirmationPolicy(None, allow=confirm),
            run_inline=run_inline,
        )
        result = outcome.result
        return ToolOutcome(
            ok=result.ok,
            output=result.output,
            error=result.error,
            directive=result.directive,
            execution_id=outcome.execution_id,
            correlation_id=outcome.correlation_id,
        )

    def chat(
        self,
        tenant: str,
        message: str,
        *,
        model: str,
        api_base: str | None = None,
        actor: str = DEFAULT_ACTOR,
        agent: str | None = None,
        conversation_id: str | None = None,
        confirm: bool = False,
        stream: bool = True,
    ) -> Any:
        """Run one chat turn through litellm; return the turn's result (never raises for
        model or tool failures: see ``result.ok`` and ``result.error``)."""
        from fleetprompt_host.chat.loop import ChatSession
        from fleetprompt_host.chat.model import LiteLLMClient, ModelSettings
        from fleetprompt_host.tools.confirmation import ConfirmationPolicy

        def client(name: str) -> Any:
            return LiteLLMClient(ModelSettings(model=name, api_base=api_base, stream=stream))

        session = ChatSession(
            self.db,
            self.registry,
            tenant,
            actor,
            client,
            model=model,
            agent=agent,
            policy=ConfirmationPolicy(None, allow=confirm),
            conversation_id=conversation_id,
        )
        return session.send(message)

    # -- signals and directives ---------------------------------------------------------
    def emit(
        self,
        tenant: str,
        type_: str,
        data: Mapping[str, Any],
        *,
        source: str = "host",
        subject: Subject | None = None,
        actor: str = DEFAULT_ACTOR,
        dedupe_key: str | None = None,
        package: str | None = None,
    ) -> tuple[Signal, bool]:
        """Emit a signal (as ``package`` when given); return it and whether it is new."""
        from fleetprompt_host.engine.signals import SignalInput, emit

        item = SignalInput(
            type=type_,
            data=dict(data),
            source=source,
            subject=subject,
            actor=Actor.parse(actor),
            dedupe_key=dedupe_key,
        )
        return emit(self.db, self.registry, tenant, item, package=package)

    def emit_many(
        self, tenant: str, signals: Sequence[SignalInput], *, package: str | None = None
    ) -> list[tuple[Signal, bool]]:
        """Emit ``signals`` in order in one transaction; return (signal, created) for each.

        Each is a :class:`~fleetprompt_host.engine.signals.SignalInput` and follows the
        rules of :meth:`emit`; if one is invalid, none is written. Numbering, insert and
        fanout happen once for the whole list, so this is the fast way to record many.
        """
        from fleetprompt_host.engine.batch import emit_many

        return emit_many(self.db, self.registry, tenant, list(signals), package=package)

    def request_directive(
        self,
        tenant: str,
        type_: str,
        params: Mapping[str, Any],
        *,
        actor: str = DEFAULT_ACTOR,
        key: str | None = None,
    ) -> tuple[Directive, bool]:
        """Request a directive; return it and whether it is new."""
        from fleetprompt_host.engine.directives import DirectiveRequest, request

        return request(
            self.db,
            self.registry,
            tenant,
            DirectiveRequest(type=type_, params=dict(params), actor=actor, key=key),
        )

    def run_until_idle(self, tenant: str) -> int:
        """Run the tenant's due directives and deliveries in this process until none is due.

        Returns how many runs were made.
        """
        from fleetprompt_host.engine.inline import run_pending_inline

        return len(run_pending_inline(self.db, self.registry, tenant).outcomes)

    # -- reading ------------------------------------------------------------------------
    def records(self, tenant: str, package: str, collection: str) -> list[Record]:
        """Return the package's records of ``collection`` in key order."""
        from fleetprompt_host.storage.models import RecordRow

        with self.db.tenant_session(tenant, readonly=True) as session:
            rows = session.execute(
                select(RecordRow)
                .where(RecordRow.package == package, RecordRow.collection == collection)
                .order_by(RecordRow.key)
            ).scalars()
            return [
                Record(
                    collection=r.collection,
                    key=r.key,
                    data=r.data,
                    package=r.package,
                    provisioned=r.provisioned,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                )
                for r in rows
            ]

    def signals(self, tenant: str, pattern: str | None = None) -> list[Signal]:
        """Return the tenant's signals in sequence order, optionally of a type pattern."""
        from fleetprompt_host.engine.queries import SignalFilter, list_signals
        from fleetprompt_host.engine.signals import to_model

        with self.db.tenant_session(tenant, readonly=True) as session:
            rows = list_signals(session, SignalFilter(type_pattern=pattern))
            return [to_model(r, tenant) for r in rows]

    def directives(self, tenant: str, type_: str | None = None) -> list[Directive]:
        """Return the tenant's directives in request order, optionally of one type."""
        from fleetprompt_host.engine.directives import to_model
        from fleetprompt_host.storage.models import DirectiveRow

        with self.db.tenant_session(tenant, readonly=True) as session:
            stmt = select(DirectiveRow).order_by(DirectiveRow.requested_at, DirectiveRow.id)
            if type_ is not None:
                stmt = stmt.where(DirectiveRow.type == type_)
            return [to_model(r, tenant) for r in session.execute(stmt).scalars()]
