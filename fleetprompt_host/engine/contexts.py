"""Host implementations of the SDK context protocols, built per unit of work.

Package code gets capabilities, never a session: records of its own collections,
``emit`` in its own namespace, ``request_directive`` and ``secret`` — each refused unless
the manifest declares the matching permission (``records:read|write``, ``signals:emit``,
``directives:request``, ``secrets:read``). Everything a context writes joins the unit of
work's transaction and is recorded as a step of its execution.

Directives requested by package code are requested by the actor ``system:package.<name>``
(the package acting on its own, as its installation allowed); host directive types
(``package.install`` ...) cannot be requested from package code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.base import new_id, utcnow
from fleetprompt_host.storage.models import DirectiveRow
from fleetprompt_sdk.errors import InvalidInputError
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Directive, DirectiveRef, Signal, Subject

from .context_base import PackageWork, UnitOfWork, resolve_secret
from .context_base import set_secret_resolver as set_secret_resolver
from .executions import ExecutionLog, Step
from .records_api import PackageRecords
from .signals import HOST_SOURCE, SignalInput, emit_signal, find_existing, validate_signal
from .signals import to_model as signal_model


class DirectiveRunContext(PackageWork):
    """The ``DirectiveContext`` a package's directive handler receives."""

    def __init__(self, *args: Any, directive: DirectiveRow, fencing_token: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._directive = directive
        self._token = fencing_token
        self._pending: list[tuple[SignalInput, Signal, Step]] = []
        self._records = PackageRecords(
            self._session,
            self._manifest,
            writable=True,
            directive_id=directive.id,
            actor=directive.actor,
        )

    @property
    def records(self) -> PackageRecords:
        """Read-write access to the package's records."""
        return self._records

    @property
    def idempotency_key(self) -> str:
        """The directive's idempotency key, to pass on to outside systems."""
        return self._directive.idempotency_key

    @property
    def directive_id(self) -> str:
        """The id of the directive being run."""
        return self._directive.id

    @property
    def attempt(self) -> int:
        """Which attempt this is (1 for the first)."""
        return self._directive.attempts

    @property
    def cancel_requested(self) -> bool:
        """True once the directive was canceled or taken over: stop, nothing will commit."""
        current = self._session.execute(
            select(DirectiveRow.status, DirectiveRow.fencing_token).where(
                DirectiveRow.id == self._directive.id
            )
        ).one()
        return bool(current.status != "running" or current.fencing_token != self._token)

    def secret(self, name: str) -> str | None:
        """Return a decrypted secret config value (needs ``secrets:read``)."""
        self._require("secrets:read")
        if name not in self._manifest.secret_fields():
            raise InvalidInputError(
                f"{name!r} is not a secret config field of package {self.package!r}",
                code="unknown-secret",
            )
        return resolve_secret(self._session, self._tenant, self.package, name)

    def emit(
        self,
        type: str,
        data: dict[str, Any],
        *,
        subject: Subject | None = None,
        dedupe_key: str | None = None,
    ) -> Signal:
        """Emit a signal in the package's namespace; it commits with the directive.

        The signal is validated now and written when the handler returns, in the same
        transaction, so the tenant's signal order is not held up while the handler works.
        Its ``seq`` is therefore 0 here; a dedupe hit returns the stored signal.
        """
        self._require("signals:emit")
        item = SignalInput(
            type=type,
            data=data,
            source=self.package,
            subject=subject,
            actor=self.actor,
            correlation_id=self._correlation_id,
            causation_id=self._directive.id,
            dedupe_key=dedupe_key,
            occurred_at=utcnow(),
        )
        validate_signal(self._registry, item, package=self.package)
        if dedupe_key is not None:
            for pending, signal, _ in self._pending:
                if pending.dedupe_key == dedupe_key:
                    return signal
            stored = find_existing(self._session, item)
            if stored is not None:
                self._log.step(
                    "signal_emitted",
                    type,
                    input={"type": type, "dedupe_key": dedupe_key},
                    output={"signal_id": stored.id, "seq": stored.seq, "created": False},
                )
                return signal_model(stored, self._tenant)
        signal = Signal(
            id=new_id(),
            seq=0,
            tenant=self._tenant,
            type=type,
            data=data,
            source=self.package,
            subject=subject,
            actor=self.actor,
            correlation_id=self._correlation_id,
            causation_id=self._directive.id,
            dedupe_key=dedupe_key,
            occurred_at=item.occurred_at or utcnow(),
        )
        step = self._log.step(
            "signal_emitted",
            type,
            input={"type": type, "dedupe_key": dedupe_key},
            output={"signal_id": signal.id, "seq": None, "created": True},
        )
        self._pending.append((item, signal, step))
        return signal

    def flush_signals(self) -> None:
        """Write the signals emitted so far (the runner calls this when the handler returns)."""
        for item, signal, step in self._pending:
            stored, created = emit_signal(
                self._session,
                self._registry,
                self._tenant,
                item,
                package=self.package,
                signal_id=signal.id,
                validated=True,
                precheck=False,  # emit() looked for a stored duplicate already
            )
            step.output = {"signal_id": stored.id, "seq": stored.seq, "created": created}
        self._pending.clear()


class HandlerRunContext(PackageWork):
    """The ``HandlerContext`` a package's signal handler receives."""

    def __init__(self, *args: Any, signal: Signal, handler: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._signal = signal
        self._handler = handler
        self._records = PackageRecords(self._session, self._manifest, writable=False)

    @property
    def records(self) -> PackageRecords:
        """Read-only access to the package's records."""
        return self._records

    @property
    def idempotency_key(self) -> str:
        """Stable per (signal, handler): the same on every retry and replay."""
        return f"{self._signal.id}:{self._handler}"

    @property
    def signal(self) -> Signal:
        """The signal being handled."""
        return self._signal


class HostDirectiveContext(UnitOfWork):
    """What a host directive handler receives: the transaction and host capabilities."""

    def __init__(
        self, *args: Any, directive: Directive, fencing_token: int | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self._directive = directive
        self._token = fencing_token

    @property
    def cancel_requested(self) -> bool:
        """True once the directive was canceled or taken over: stop, nothing will commit."""
        current = self._session.execute(
            select(DirectiveRow.status, DirectiveRow.fencing_token).where(
                DirectiveRow.id == self._directive.id
            )
        ).one()
        stale = self._token is not None and current.fencing_token != self._token
        return bool(current.status != "running" or stale)

    @property
    def session(self) -> Session:
        """The directive's transaction (host code only; never handed to package code)."""
        return self._session

    @property
    def registry(self) -> PackageRegistry:
        """The package registry of this process."""
        return self._registry

    @property
    def directive(self) -> Directive:
        """The directive being run."""
        return self._directive

    @property
    def execution(self) -> ExecutionLog:
        """The execution being recorded, to add steps to."""
        return self._log

    @property
    def idempotency_key(self) -> str:
        """The directive's idempotency key."""
        return self._directive.idempotency_key

    def records_for(self, manifest: Manifest, *, provisioned: bool = False) -> PackageRecords:
        """Return writable records of ``manifest``'s package, with this directive's provenance."""
        return PackageRecords(
            self._session,
            manifest,
            writable=True,
            provisioned=provisioned,
            directive_id=self._directive.id,
            actor=str(self._directive.actor),
            check_permissions=False,
        )

    def emit(
        self,
        type: str,
        data: dict[str, Any],
        *,
        subject: Subject | None = None,
        dedupe_key: str | None = None,
    ) -> Signal:
        """Emit a host signal in the directive's transaction."""
        return self._emit(
            SignalInput(
                type=type,
                data=data,
                source=HOST_SOURCE,
                subject=subject,
                actor=self.actor,
                correlation_id=self._correlation_id,
                causation_id=self._directive.id,
                dedupe_key=dedupe_key,
            ),
            None,
        )

    def request_directive(
        self, type: str, params: dict[str, Any], *, key: str | None = None
    ) -> DirectiveRef:
        """Request a follow-up directive as this directive's actor."""
        return self._request(
            type,
            params,
            actor=self.actor,
            key=key,
            base_key=self._directive.idempotency_key,
            from_package=False,
        )
