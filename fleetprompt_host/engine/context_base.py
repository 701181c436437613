"""What every unit-of-work context shares: tenant, actor, correlation, execution steps.

See :mod:`.contexts` for the contexts package code receives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.models import InstallationRow
from fleetprompt_sdk.enums import Role
from fleetprompt_sdk.errors import PermissionDeniedError
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Actor, DirectiveRef, Signal

from .directives import DirectiveRequest, derived_key, request_directive, resolve_target
from .executions import ExecutionLog
from .host_directives import host_directive
from .signals import SignalInput, emit_signal

#: ``resolver(session, tenant, package, name) -> secret value or None``.
SecretResolver = Callable[[Session, str, str, str], "str | None"]
_secret_resolver: list[SecretResolver] = []


def set_secret_resolver(resolver: SecretResolver | None) -> None:
    """Install the function that decrypts secret config values (the installations layer)."""
    _secret_resolver.clear()
    if resolver is not None:
        _secret_resolver.append(resolver)


def resolve_secret(session: Session, tenant: str, package: str, name: str) -> str | None:
    """Return a secret through the installed resolver (None when there is none)."""
    if not _secret_resolver:
        return None
    return _secret_resolver[0](session, tenant, package, name)


def package_actor(package: str) -> Actor:
    """Return the actor package code acts as when it requests directives."""
    return Actor(kind="system", name=f"package.{package}")


class UnitOfWork:
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
        #: True once this unit of work wrote a signal itself (a requested directive's
        #: ``directive.requested``): its transaction then holds the tenant's signal order.
        self.holds_signal_order = False

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
        self.holds_signal_order = True
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


class PackageWork(UnitOfWork):
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
        self._check_scope(type)
        return self._request(
            type,
            params,
            actor=package_actor(self.package),
            key=key,
            base_key=self.idempotency_key,
            from_package=True,
        )

    def _check_scope(self, type_: str) -> None:
        # Package code acts as a trusted system actor, so the role check alone would let
        # any package request any other package's admin-only directives: a package may
        # request its own types, and its dependencies' types that any member may request.
        target = resolve_target(self._session, self._registry, type_)
        if target.package is None or target.package == self.package:
            return
        dependencies = {d.name for d in self._manifest.dependencies}
        if target.package not in dependencies:
            raise PermissionDeniedError(
                f"package {self.package!r} cannot request {type_!r}: it belongs to package "
                f"{target.package!r}, which is not a dependency of {self.package!r}",
                code="directive-out-of-scope",
            )
        if target.required_role is not Role.MEMBER:
            raise PermissionDeniedError(
                f"package {self.package!r} cannot request {type_!r}: it needs the "
                f"{target.required_role.value} role, which only a person can hold",
                code="directive-out-of-scope",
            )

    @property
    def idempotency_key(self) -> str:
        """Stable across retries of this unit of work."""
        raise NotImplementedError
