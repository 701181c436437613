"""Engine test fixtures: small real packages registered in a registry, and a tenant.

``shop`` is installed in tenant ``acme``; ``mailer`` subscribes to shop signals but is
installed only when a test says so. Handlers consult a :class:`Behaviour` the test
controls (fail N times, run a hook mid-run) and record what they saw.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from fleetprompt_host.engine.installed import mark_installed
from fleetprompt_host.engine.retry import RetryPolicy
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import (
    DeliveryRow,
    DirectiveRow,
    ExecutionRow,
    SignalRow,
)
from fleetprompt_sdk import Package
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Directive, Signal

TENANT = "acme"
OWNER = "user:olivia"
MEMBER = "user:max"
#: Retries due at once, so a test can drive them without waiting.
NOW = RetryPolicy(base_seconds=0.0, delivery_max_attempts=3)

ALL_PERMISSIONS = [
    "records:read",
    "records:write",
    "signals:emit",
    "signals:subscribe",
    "directives:request",
    "directives:handle",
]

SHOP_MANIFEST: dict[str, Any] = {
    "name": "shop",
    "version": "1.0",
    "display_name": "Shop",
    "permissions": ALL_PERMISSIONS,
    "collections": [
        {
            "name": "orders",
            "schema": {
                "type": "object",
                "properties": {"item": {"type": "string"}, "qty": {"type": "integer"}},
                "required": ["item"],
            },
        }
    ],
    "signals": {
        "emits": [
            {
                "type": "shop.order.placed",
                "schema": {
                    "type": "object",
                    "properties": {"order": {"type": "string"}, "qty": {"type": "integer"}},
                    "required": ["order"],
                },
            },
            {"type": "shop.order.noted"},
        ],
        "subscribes": [
            {"handler": "notify", "pattern": "shop.order.*"},
            {"handler": "ledger", "pattern": "shop.**"},
        ],
    },
    "directives": [
        {
            "type": "shop.order.place",
            "params": {
                "type": "object",
                "properties": {
                    "item": {"type": "string", "minLength": 1},
                    "qty": {"type": "integer", "minimum": 1},
                },
                "required": ["item"],
                "additionalProperties": False,
            },
        },
        {"type": "shop.order.purge", "required_role": "admin"},
        {"type": "shop.noop"},
    ],
}

MAILER_MANIFEST: dict[str, Any] = {
    "name": "mailer",
    "version": "1.0",
    "display_name": "Mailer",
    "permissions": ["signals:subscribe"],
    "signals": {"subscribes": [{"handler": "send", "pattern": "shop.order.placed"}]},
}


@dataclass
class Behaviour:
    """What the test packages' handlers do, and what they saw."""

    fail_times: int = 0
    always_fail: bool = False
    result: Any = None
    hook: Callable[[Any, Directive], None] | None = None
    notify_requests: bool = False
    notify_fails: bool = False
    runs: int = 0
    delivered: list[tuple[str, int, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def maybe_fail(self) -> None:
        """Raise as configured (after the handler has written)."""
        if self.always_fail:
            raise RuntimeError("the shop handler failed on purpose")
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("the shop handler failed on purpose (transient)")


def build_shop(behaviour: Behaviour) -> Package:
    """Return the ``shop`` package whose handlers follow ``behaviour``."""
    shop = Package("shop")

    @shop.directive("shop.order.place")
    def place(ctx: Any, directive: Directive) -> Any:
        behaviour.runs += 1
        key = f"order-{directive.id[:8]}"
        ctx.records.put("orders", {"item": directive.params["item"]}, key=key)
        ctx.emit("shop.order.placed", {"order": key}, dedupe_key=f"placed:{directive.id}")
        if behaviour.hook is not None:
            behaviour.hook(ctx, directive)
        behaviour.maybe_fail()
        return behaviour.result if behaviour.result is not None else {"order": key}

    @shop.directive("shop.order.purge")
    def purge(ctx: Any, directive: Directive) -> dict[str, Any]:
        return {"purged": 0}

    @shop.directive("shop.noop")
    def noop(ctx: Any, directive: Directive) -> None:
        behaviour.runs += 1

    @shop.on_signal("notify")
    def notify(ctx: Any, signal: Signal) -> None:
        behaviour.delivered.append(("notify", signal.seq, signal.type))
        behaviour.keys.append(ctx.idempotency_key)
        if behaviour.notify_requests:
            ctx.request_directive("shop.noop", {})
        if behaviour.notify_fails:
            raise RuntimeError("notify failed on purpose")

    @shop.on_signal("ledger")
    def ledger(ctx: Any, signal: Signal) -> None:
        behaviour.delivered.append(("ledger", signal.seq, signal.type))

    return shop


def build_mailer(behaviour: Behaviour) -> Package:
    """Return the ``mailer`` package."""
    mailer = Package("mailer")

    @mailer.on_signal("send")
    def send(ctx: Any, signal: Signal) -> None:
        behaviour.delivered.append(("send", signal.seq, signal.type))

    return mailer


T = TypeVar("T")


def all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0)`` ... ``work(count - 1)`` on as many threads released together;
    return their results, and raise the first error any of them raised."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results.append(work(n))
        except BaseException as error:  # pragma: no cover - raised below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def behaviour() -> Behaviour:
    """The behaviour of the test packages' handlers."""
    return Behaviour()


@pytest.fixture
def registry(behaviour: Behaviour) -> PackageRegistry:
    """A registry holding ``shop`` and ``mailer``."""
    reg = PackageRegistry()
    reg.register(build_shop(behaviour), Manifest.model_validate(SHOP_MANIFEST))
    reg.register(build_mailer(behaviour), Manifest.model_validate(MAILER_MANIFEST))
    return reg


@pytest.fixture
def tenant(db: Database) -> Iterator[str]:
    """Tenant ``acme`` owned by OLIVIA with MEMBER as a member and ``shop`` installed."""
    from fleetprompt_host.storage import add_member

    db.create_tenant(TENANT, actor=OWNER)
    with db.tenant_session(TENANT) as session:
        add_member(session, MEMBER, "member", by=OWNER)
        mark_installed(session, "shop", "1.0")
    yield TENANT


@dataclass
class Engine:
    """The test tenant with the registry and shortcuts to the engine's entry points."""

    db: Database
    registry: PackageRegistry
    behaviour: Behaviour
    tenant: str = TENANT
    owner: str = OWNER
    member: str = MEMBER
    policy: RetryPolicy = NOW

    def request(self, type_: str = "shop.order.place", params: Any = None, **kw: Any) -> Any:
        """Request a directive as the owner (unless ``actor`` is given); return it."""
        from fleetprompt_host.engine.directives import DirectiveRequest, request

        kw.setdefault("actor", self.owner)
        directive, _ = request(
            self.db,
            self.registry,
            self.tenant,
            DirectiveRequest(
                type=type_, params={"item": "tea"} if params is None else params, **kw
            ),
        )
        return directive

    def run_pending(self) -> Any:
        """Run due work inline until idle."""
        from fleetprompt_host.engine.inline import run_pending_inline

        return run_pending_inline(self.db, self.registry, self.tenant, policy=self.policy)

    def emit(self, type_: str, data: dict[str, Any], **kw: Any) -> Any:
        """Emit a signal in its own transaction; return (signal, created)."""
        from fleetprompt_host.engine.signals import SignalInput, emit

        package = kw.pop("package", None)
        kw.setdefault("source", "test")
        return emit(
            self.db,
            self.registry,
            self.tenant,
            SignalInput(type=type_, data=data, **kw),
            package=package,
        )

    def install(self, package: str, status: str = "installed") -> None:
        """Mark ``package`` installed (or another installation status)."""
        with self.db.tenant_session(self.tenant) as session:
            mark_installed(session, package, "1.0", status=status)

    def count(self, model: Any, *where: Any) -> int:
        """Return how many rows of ``model`` match ``where``."""
        with self.db.tenant_session(self.tenant, readonly=True) as session:
            stmt = select(func.count()).select_from(model)
            for condition in where:
                stmt = stmt.where(condition)
            return int(session.execute(stmt).scalar_one())

    def signals(self) -> list[SignalRow]:
        """Return the tenant's signals in seq order (detached)."""
        return self._all(select(SignalRow).order_by(SignalRow.seq))

    def signal_types(self) -> list[str]:
        """Return the tenant's signal types in seq order."""
        return [s.type for s in self.signals()]

    def deliveries(self) -> list[DeliveryRow]:
        """Return the tenant's deliveries in id order (detached)."""
        return self._all(select(DeliveryRow).order_by(DeliveryRow.id))

    def directive(self, directive_id: str) -> DirectiveRow:
        """Return a fresh, detached copy of a directive row."""
        rows = self._all(select(DirectiveRow).where(DirectiveRow.id == directive_id))
        assert len(rows) == 1
        return rows[0]

    def executions(self, kind: str | None = None) -> list[ExecutionRow]:
        """Return executions in start order (detached)."""
        stmt = select(ExecutionRow).order_by(ExecutionRow.started_at)
        if kind:
            stmt = stmt.where(ExecutionRow.kind == kind)
        return self._all(stmt)

    def _all(self, stmt: Any) -> list[Any]:
        with self.db.tenant_session(self.tenant, readonly=True) as session:
            rows = list(session.execute(stmt).scalars())
            for row in rows:
                session.expunge(row)
            return rows


@pytest.fixture
def engine(db: Database, registry: PackageRegistry, behaviour: Behaviour, tenant: str) -> Engine:
    """The test tenant and its shortcuts."""
    return Engine(db, registry, behaviour)
