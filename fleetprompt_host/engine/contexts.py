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

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.models import DirectiveRow, InstallationRow
from fleetprompt_sdk.errors import InvalidInputError, PermissionDeniedError
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Actor, Directive, DirectiveRef, Signal, Subject

from .directives import DirectiveRequest, derived_key, request_directive
from .executions import ExecutionLog
from .host_directives import host_directive
from .records_api import PackageRecords
from .signals import HOST_SOURCE, SignalInput, emit_signal

#: ``resolver(session, tenant, package, name) -> secret value or None``.
SecretResolver = Callable[[Session, str, str, str], "str | None"]
_secret_resolver: list[SecretResolver] = []


def set_secret_resolver(resolver: SecretResolver | None) -> None:
    """Install the function that decrypts secret config values (the installations layer)."""
    _secret_resolver.clear()
    if resolver is not None:
        _secret_resolver.append(resolver)


def package_actor(package: str) -> Actor:
    """Return the actor package code acts as when it requests directives."""
    return Actor(kind="system", name=f"package.{package}")


class _UnitOfWork:
    """What every context shares: the session, the tenant, the actor and the execution."""

    def __init__(
        self,
        session: Session,
        registry: PackageRegistry,
        tenant: str,
        *,
        actor: str,
        correlation_id: str,
        causation_id: str,
        log: ExecutionLog,
    ) -> None:
        self._session = session
        self._registry = registry
        self._tenant = tenant
        self._actor = Actor.parse(actor)
        self._correlation_id = correlation_id
        self._causation_id = causation_id
        self._log = log

    @property
    def tenant(self) -> str:
        """The tenant slug."""
        return self._tenant

    @property
    def actor(self) -> Actor:
        """Who the work is done for."""
        return self._actor

    @property
    def correlation_id(self) -> str:
        """The correlation id shared by everything this unit of work causes."""
        return self._correlation_id

    def _emit(self, item: SignalInput, package: str | None) -> Signal:
        signal, created = emit_signal(
            self._session, self._registry, self._tenant, item, package=package
        )
        self._log.step(
            "signal_emitted",
            item.type,
            input={"type": item.type, "dedupe_key": item.dedupe_key},
            output={"signal_id": signal.id, "seq": signal.seq, "created": created},
        )
        return signal

    def _request(
        self,
        type_: str,
        params: dict[str, Any],
        *,
        actor: Actor,
        key: str | None,
        base_key: str,
        from_package: bool,
    ) -> DirectiveRef:
        if from_package and host_directive(type_) is not None:
            raise PermissionDeniedError(
                f"package code cannot request host directive {type_!r}",
                code="host-directive-refused",
            )
        directive, created = request_directive(
            self._session,
            self._registry,
            self._tenant,
            DirectiveRequest(
                type=type_,
                params=params,
                actor=actor,
                key=key or derived_key(type_, params, base_key),
                correlation_id=self._correlation_id,
                causation_id=self._causation_id,
            ),
        )
        self._log.step(
            "signal_emitted",
            "directive.requested",
            input={"type": type_, "params": params},
            output={"directive_id": directive.id, "created": created},
        )
        return DirectiveRef(
            id=directive.id,
            type=directive.type,
            status=directive.status,
            result=directive.result,
            created=created,
        )


class _PackageWork(_UnitOfWork):
    """A unit of work running one package's code."""

    def __init__(self, *args: Any, manifest: Manifest, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._manifest = manifest
        self._config: dict[str, Any] | None = None

    @property
    def package(self) -> str:
        """The package whose code is running."""
        return self._manifest.name

    @property
    def config(self) -> dict[str, Any]:
        """The installation's non-secret config values."""
        if self._config is None:
            found = self._session.execute(
                select(InstallationRow.config).where(InstallationRow.package == self.package)
            ).scalar_one_or_none()
            self._config = dict(found or {})
        return dict(self._config)

    def _require(self, permission: str) -> None:
        if permission not in {p.value for p in self._manifest.permissions}:
            raise PermissionDeniedError(
                f"package {self.package!r} lacks permission {permission!r} in its manifest",
                code="package-permission-missing",
            )

    def request_directive(
        self, type: str, params: dict[str, Any], *, key: str | None = None
    ) -> DirectiveRef:
        """Request a directive caused by this unit of work (idempotent per key)."""
        self._require("directives:request")
        return self._request(
            type,
            params,
            actor=package_actor(self.package),
            key=key,
            base_key=self.idempotency_key,
            from_package=True,
        )

    @property
    def idempotency_key(self) -> str:
        """Stable across retries of this unit of work."""
        raise NotImplementedError


class DirectiveRunContext(_PackageWork):
    """The ``DirectiveContext`` a package's directive handler receives."""

    def __init__(self, *args: Any, directive: DirectiveRow, fencing_token: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._directive = directive
        self._token = fencing_token
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
        return current.status != "running" or current.fencing_token != self._token

    def secret(self, name: str) -> str | None:
        """Return a decrypted secret config value (needs ``secrets:read``)."""
        self._require("secrets:read")
        if name not in self._manifest.secret_fields():
            raise InvalidInputError(
                f"{name!r} is not a secret config field of package {self.package!r}",
                code="unknown-secret",
            )
        if not _secret_resolver:
            return None
        return _secret_resolver[0](self._session, self._tenant, self.package, name)

    def emit(
        self,
        type: str,
        data: dict[str, Any],
        *,
        subject: Subject | None = None,
        dedupe_key: str | None = None,
    ) -> Signal:
        """Emit a signal in the package's namespace; it commits with the directive."""
        self._require("signals:emit")
        return self._emit(
            SignalInput(
                type=type,
                data=data,
                source=self.package,
                subject=subject,
                actor=self.actor,
                correlation_id=self._correlation_id,
                causation_id=self._directive.id,
                dedupe_key=dedupe_key,
            ),
            self.package,
        )


class HandlerRunContext(_PackageWork):
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


class HostDirectiveContext(_UnitOfWork):
    """What a host directive handler receives: the transaction and host capabilities."""

    def __init__(self, *args: Any, directive: Directive, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._directive = directive

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
