"""The capability-scoped host API that package code receives.

Package code never gets a database session or a tenant id it could change: it gets one of
these context objects, built by the host for one tenant, one actor and one unit of work,
exposing only what the package's permissions and the kind of work allow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .models import Actor, DirectiveRef, Record, Signal, Subject


@runtime_checkable
class RecordReader(Protocol):
    """Read access to the package's own record collections in the current tenant."""

    def get(self, collection: str, key: str) -> Record | None:
        """Return the record ``key`` of ``collection``, or None."""
        ...

    def find(
        self,
        collection: str,
        *,
        where: dict[str, Any] | None = None,
        text: str | None = None,
        limit: int = 50,
    ) -> list[Record]:
        """Return records whose data equals ``where`` and contains ``text`` (any field)."""
        ...


@runtime_checkable
class RecordWriter(RecordReader, Protocol):
    """Read and write access, given only inside directive runs and lifecycle hooks."""

    def put(self, collection: str, data: dict[str, Any], *, key: str | None = None) -> Record:
        """Create or replace a record; a missing ``key`` gets a new unique one."""
        ...

    def update(self, collection: str, key: str, changes: dict[str, Any]) -> Record:
        """Merge ``changes`` into the record's data and return the new record."""
        ...

    def delete(self, collection: str, key: str) -> bool:
        """Delete a record; return whether it existed."""
        ...


class BaseContext(Protocol):
    """What every context carries: where, who, and the correlation id of the work."""

    @property
    def tenant(self) -> str:
        """The tenant slug (derived by the host, never from arguments)."""
        ...

    @property
    def actor(self) -> Actor:
        """Who the work is done for."""
        ...

    @property
    def correlation_id(self) -> str:
        """The id shared by every signal, directive and execution of this unit of work."""
        ...

    @property
    def package(self) -> str:
        """The name of the package whose code is running."""
        ...

    @property
    def config(self) -> dict[str, Any]:
        """The installation's non-secret config values."""
        ...


class ToolContext(BaseContext, Protocol):
    """Given to tools: read records; request directives (write tools only)."""

    @property
    def records(self) -> RecordReader:
        """Read-only access to the package's records."""
        ...

    def request_directive(
        self, type: str, params: dict[str, Any], *, preview: str = ""
    ) -> DirectiveRef:
        """Request a directive on behalf of the actor; idempotent per tool invocation."""
        ...


class HandlerContext(BaseContext, Protocol):
    """Given to signal handlers: read records and request directives."""

    @property
    def records(self) -> RecordReader:
        """Read-only access to the package's records."""
        ...

    @property
    def idempotency_key(self) -> str:
        """Stable per (signal, handler): the same on every retry and replay."""
        ...

    def request_directive(
        self, type: str, params: dict[str, Any], *, key: str | None = None
    ) -> DirectiveRef:
        """Request a directive caused by the signal being handled."""
        ...


class DirectiveContext(BaseContext, Protocol):
    """Given to directive handlers: write records and emit signals, all in one transaction."""

    @property
    def records(self) -> RecordWriter:
        """Read-write access to the package's records."""
        ...

    @property
    def idempotency_key(self) -> str:
        """The directive's idempotency key, to pass on to outside systems."""
        ...

    def secret(self, name: str) -> str | None:
        """Return a decrypted secret config value (needs ``secrets:read``)."""
        ...

    def emit(
        self,
        type: str,
        data: dict[str, Any],
        *,
        subject: Subject | None = None,
        dedupe_key: str | None = None,
    ) -> Signal:
        """Emit a signal in the package's namespace; it commits with the directive."""
        ...


class InstallContext(BaseContext, Protocol):
    """Given to install, upgrade and uninstall hooks."""

    @property
    def records(self) -> RecordWriter:
        """Read-write access; records written here are marked as provisioned."""
        ...
