"""What a storage backend (SQLite or PostgreSQL) provides to :class:`Database`.

The two backends differ in where a tenant's data lives (a file or a schema) and in how
isolation is enforced (an SQLite authorizer or PostgreSQL roles); :class:`Database` holds
everything they share, so both behave the same from the API's point of view.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine

from .models.host import TenantRow

#: Called with a connection bound to the new tenant's schema to write its first rows.
TenantInitializer = Callable[[Connection], None]


@dataclass
class TenantHandle:
    """A cached, ready-to-use binding of one tenant to an engine.

    Sessions connect through option views of the engines built once here, so a session
    sets no execution option of its own and every statement carries the same schema
    translation map object. Read-only sessions use ``readonly_engine`` when the backend
    gives one (connections that stay read-only), else ``engine``.
    """

    slug: str
    schema: str
    engine: Engine
    translate_map: dict[str, str | None]
    extra: dict[str, Any] = field(default_factory=dict)
    readonly_engine: Engine | None = None

    def __post_init__(self) -> None:
        writer = self.engine.execution_options(schema_translate_map=self.translate_map)
        reader = (
            writer
            if self.readonly_engine is None
            else self.readonly_engine.execution_options(schema_translate_map=self.translate_map)
        )
        self._views = (writer, reader)

    def connect(self, readonly: bool) -> Connection:
        """Check a connection out of this tenant's pool (not yet in a transaction)."""
        return self._views[readonly].connect()

    def dispose(self) -> None:
        """Close the pooled connections of this tenant."""
        self.engine.dispose()
        if self.readonly_engine is not None:
            self.readonly_engine.dispose()


class Backend(ABC):
    """The dialect-specific half of a :class:`Database`."""

    name: str
    host_engine: Engine
    #: Applied to every host connection (maps the host schema to None on SQLite).
    host_translate_map: dict[str, str | None]

    @abstractmethod
    def host_transaction(self, *, write: bool = True) -> AbstractContextManager[Connection]:
        """Yield a host connection inside a transaction; commit on success."""

    @abstractmethod
    def prepare_host(self, conn: Connection) -> None:
        """Create the host schema and lock down defaults (inside the migration transaction)."""

    @abstractmethod
    def create_tenant_storage(
        self,
        conn: Connection,
        row: TenantRow,
        initializer: TenantInitializer,
        pause: Callable[[], None],
    ) -> str:
        """Create the tenant's schema/file at head, run ``initializer``; return the revision.

        ``conn`` is the host transaction that inserted ``row``; nothing the tenant can use
        must exist once that transaction rolls back (or a retry must clean it up).
        """

    @abstractmethod
    def drop_tenant_storage(self, conn: Connection, row: TenantRow) -> None:
        """Drop the tenant's data (schema and role, or file) and nothing else.

        Called inside :meth:`tenant_storage_lock` of the tenant's schema.
        """

    def tenant_storage_lock(self, schema: str) -> AbstractContextManager[None]:
        """Hold what keeps tenant writers out while the tenant is dropped (here nothing:
        PostgreSQL's ``DROP SCHEMA`` takes its own locks)."""
        return nullcontext()

    @abstractmethod
    def open_tenant(self, row: TenantRow) -> TenantHandle:
        """Return a handle whose engine connects with the tenant's restrictions."""

    @abstractmethod
    def handle_is_valid(self, handle: TenantHandle) -> bool:
        """Return False when a cached handle no longer points at live storage.

        Called once per session, right after :meth:`begin_tenant`, so it must be cheap.
        """

    @abstractmethod
    def begin_tenant(self, conn: Connection, readonly: bool) -> None:
        """Begin the tenant transaction on ``conn`` (read-only when asked).

        ``conn`` comes from :meth:`TenantHandle.connect`.
        """

    @abstractmethod
    def migrate_tenant(
        self,
        conn: Connection,
        row: TenantRow,
        target: str,
        extra_locations: Sequence[str] = (),
        downgrade: bool = False,
    ) -> str | None:
        """Move the tenant's schema to ``target`` and return its revision.

        ``conn`` is a host transaction in which the caller records the revision.
        """

    @abstractmethod
    def tenant_revision(self, conn: Connection, row: TenantRow) -> str | None:
        """Return the revision the tenant's schema is really at."""

    @abstractmethod
    def delete_signals(self, conn: Connection, row: TenantRow, where: Any) -> int:
        """Delete the signals matching ``where`` through the audited retention path."""

    def dispose(self) -> None:
        """Close every pooled host connection."""
        self.host_engine.dispose()
