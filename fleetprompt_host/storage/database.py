"""The one entry point to FleetPrompt storage: :class:`Database`.

>>> db = Database("sqlite:////tmp/fp/fleetprompt.sqlite")   # doctest: +SKIP
>>> db.create_tenant("acme", "Acme Inc.", actor="user:alice")  # doctest: +SKIP
>>> with db.tenant_session("acme") as session:              # doctest: +SKIP
...     session.add(RecordRow(...))

Every tenant session is opened through :meth:`Database.tenant_session`: it validates the
slug, checks the tenant exists, binds the tenant's schema, begins a transaction, commits
on success and rolls back on error. :meth:`Database.tenant_autocommit` (work that is one
statement) and :meth:`Database.tenant_dbapi` (SQLite hot paths) check and bind the tenant
the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, exc, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from fleetprompt_sdk.errors import ConflictError, NotFoundError, StorageError
from fleetprompt_sdk.models import Actor

from ..settings import mask_url, resolve_database_url
from . import migrate
from .backend import Backend, TenantHandle
from .bare_connections import KeptConnections
from .base import HOST_SCHEMA, utcnow
from .engine_cache import EngineCache
from .faults import pause_point
from .models.host import TenantRow
from .models.members import MemberRow
from .registry import TenantInfo, audit, fetch_tenant, fetch_tenants
from .slugs import schema_name, validate_slug

TENANT_CACHE_ENV = "FLEETPROMPT_TENANT_ENGINE_CACHE"
DEFAULT_TENANT_CACHE = 32


class _Closable(Protocol):
    def close(self) -> None: ...


_Begun = TypeVar("_Begun", bound=_Closable)


def _actor_text(actor: Actor | str) -> str:
    return str(actor if isinstance(actor, Actor) else Actor.parse(actor))


class Database:
    """Host registry plus isolated tenant storage behind one URL (SQLite or PostgreSQL)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        check_revision: bool = True,
        tenant_cache_size: int | None = None,
    ) -> None:
        """Open the database at ``url`` (default: see :mod:`fleetprompt_host.settings`).

        A database with no host tables gets them. With ``check_revision`` an outdated host
        schema raises :class:`StorageError` (``host-outdated``): run ``fleetprompt db
        upgrade``.
        """
        self.url = resolve_database_url(url)
        self.backend: Backend
        if self.url.startswith("sqlite"):
            from .sqlite_backend import SqliteBackend

            self.backend = SqliteBackend(self.url)
        else:
            from .postgres_backend import PostgresBackend

            self.backend = PostgresBackend(self.url)
        size = tenant_cache_size or int(os.environ.get(TENANT_CACHE_ENV, DEFAULT_TENANT_CACHE))
        self._handles = EngineCache(size)
        self._kept = KeptConnections(size)
        try:
            self._ensure_host(strict=check_revision)
        except exc.OperationalError as error:
            self.backend.dispose()
            raise StorageError(
                f"cannot open database {self.masked_url}: {_first_line(error)}",
                code="database-unavailable",
            ) from None

    # -- identity -----------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.backend.name

    @property
    def masked_url(self) -> str:
        """The database URL with its password masked (safe to print)."""
        return mask_url(self.url)

    # -- host schema --------------------------------------------------------------------

    def host_revision(self) -> str | None:
        """Return the revision of the host tables."""
        with self.backend.host_transaction(write=False) as conn:
            return migrate.current_revision(conn, self._host_schema())

    def _host_schema(self) -> str | None:
        return HOST_SCHEMA if self.dialect == "postgresql" else None

    def _ensure_host(self, *, strict: bool) -> None:
        head = migrate.head("host")
        current = self.host_revision()
        if current is None:
            self.upgrade_host()
        elif current != head and strict:
            raise StorageError(
                f"host schema of {self.masked_url} is at revision {current}, this version "
                f"needs {head}: run `fleetprompt db upgrade`",
                code="host-outdated",
            )

    def upgrade_host(self, target: str = "head") -> str | None:
        """Bring the host tables to ``target``; safe to run from several processes at once."""
        with self.backend.host_transaction() as conn:
            self.backend.prepare_host(conn)
            return migrate.upgrade(conn, "host", self._host_schema(), target)

    # -- sessions -----------------------------------------------------------------------

    @contextmanager
    def host_session(self, *, write: bool = True) -> Iterator[Session]:
        """Yield an ORM session on the host tables, in one transaction committed on success."""
        with self.backend.host_transaction(write=write) as conn:
            session = Session(bind=conn, join_transaction_mode="rollback_only")
            try:
                yield session
                session.flush()
            finally:
                session.close()

    @contextmanager
    def tenant_session(self, slug: str, readonly: bool = False) -> Iterator[Session]:
        """Yield an ORM session confined to tenant ``slug``: the one way to reach tenant data.

        The session's statements (raw SQL included) can reach this tenant's tables only.
        Everything in the block is one transaction: committed when the block ends, rolled
        back when it raises. ``session.commit()`` inside the block only flushes. With
        ``readonly`` every write is refused by the database.

        The tenant's registry row is read once per process and its engine cached (a
        bounded LRU); later sessions check only that the storage is still the same (on
        SQLite, the file's inode, after BEGIN; on PostgreSQL, a deleted tenant's role is
        gone, so the database refuses it).

        Raises :class:`InvalidInputError` (``invalid-slug``), :class:`NotFoundError`
        (``tenant-not-found``) or :class:`StorageError` (``tenant-outdated``,
        ``tenant-unavailable``) before the block runs. Database errors inside the block
        propagate unchanged.
        """
        conn = self._begin_tenant(slug, readonly)
        session = Session(bind=conn, join_transaction_mode="rollback_only")
        try:
            yield session
            session.flush()
            conn.commit()
        except BaseException:
            session.rollback()
            conn.rollback()
            raise
        finally:
            session.close()
            conn.close()

    @contextmanager
    def tenant_autocommit(self, slug: str, *, write: bool = True) -> Iterator[Connection]:
        """Yield a connection of tenant ``slug`` for work that is ONE statement.

        The same checks, errors and tenant binding as :meth:`tenant_session`. Each
        statement is atomic and committed no later than the end of the block: on
        PostgreSQL each commits on its own as it runs, with no transaction around it; on
        SQLite the block is one transaction, read-only with ``write=False`` (which
        PostgreSQL does not enforce: never hand this to package code). See
        :mod:`.autocommit`.
        """
        from .autocommit import autocommit_connection, release_autocommit, statements_block

        if self.dialect == "sqlite":
            conn = self._begin_tenant(slug, not write)
            with statements_block(conn, Connection.close):
                yield conn
            return
        conn = self._begun(slug, autocommit_connection)
        with statements_block(conn, release_autocommit):
            yield conn

    @contextmanager
    def tenant_dbapi(self, slug: str) -> Iterator[Any]:
        """Yield the DBAPI connection of a write transaction on tenant ``slug`` (SQLite).

        For hot paths whose few statements cost less than a session around them: the
        same checks as :meth:`tenant_session` (slug, tenant, unchanged storage, the same
        errors before the block runs), the same pooled connection with its guard, a
        ``BEGIN IMMEDIATE``; committed when the block ends, rolled back when it raises.
        Statements name tenant tables unqualified. PostgreSQL raises
        :class:`StorageError` (``dbapi-unsupported``): use :meth:`tenant_session`.
        """
        if self.dialect != "sqlite":
            raise StorageError(
                "tenant_dbapi is for SQLite; use tenant_session", code="dbapi-unsupported"
            )
        bare = self._begun(slug, self._kept.begin)
        raw = bare.pooled.driver_connection
        try:
            yield raw
            raw.commit()
        except BaseException:
            try:
                raw.rollback()
            finally:
                bare.close()
            raise
        self._kept.keep(bare, self._handles.get(slug))

    def _begin_tenant(self, slug: str, readonly: bool) -> Connection:
        """Return a connection of tenant ``slug`` inside a freshly begun transaction."""
        return self._begun(slug, lambda handle: self._begin_connection(handle, readonly))

    def _begin_connection(self, handle: TenantHandle, readonly: bool) -> Connection:
        conn = handle.connect(readonly)
        try:
            self.backend.begin_tenant(conn, readonly)
        except BaseException:
            conn.close()
            raise
        return conn

    def _begun(self, slug: str, begin: Callable[[TenantHandle], _Begun]) -> _Begun:
        """Return ``begin(handle)`` of tenant ``slug``'s handle, once the handle is valid.

        The cached handle is checked after BEGIN (see :meth:`Backend.handle_is_valid`):
        a handle found stale (its tenant deleted, or deleted and created again, by another
        process) is dropped and the tenant looked up again in the registry, so a deleted
        tenant is refused and a re-created one reached at its new storage.
        """
        # Only validated slugs are ever cached, so a hit needs no validation; a miss
        # validates before anything is opened.
        handle = self._handles.get(slug) if type(slug) is str else None
        if handle is None:
            handle = self._open_handle(slug)
        for _ in range(2):
            conn = begin(handle)
            try:
                if self.backend.handle_is_valid(handle):
                    return conn
            except BaseException:
                conn.close()
                raise
            conn.close()
            self._kept.drop(slug)
            self._handles.discard(slug, only=handle)
            handle = self._open_handle(slug)
        raise StorageError(
            f"the storage of tenant {slug!r} changed twice while opening a session; retry",
            code="tenant-unavailable",
        )

    def _open_handle(self, slug: str) -> TenantHandle:
        """Look ``slug`` up in the registry and cache a handle on its storage."""
        validate_slug(slug)
        row = self._active_row(slug)
        head = migrate.head("tenant")
        if row.schema_revision != head:
            raise StorageError(
                f"tenant {slug!r} is at schema revision {row.schema_revision}, this version "
                f"needs {head}: run `fleetprompt db upgrade`",
                code="tenant-outdated",
            )
        return self._handles.put(self.backend.open_tenant(row))

    def _active_row(self, slug: str, conn: Connection | None = None) -> TenantRow:
        if conn is None:
            with self.backend.host_transaction(write=False) as own:
                row = fetch_tenant(own, slug)
        else:
            row = fetch_tenant(conn, slug)
        if row is None or row.status != "active":
            raise NotFoundError(f"tenant {slug!r} does not exist", code="tenant-not-found")
        return row

    # -- tenants ------------------------------------------------------------------------

    def create_tenant(
        self, slug: str, name: str | None = None, actor: Actor | str = "system:fleetprompt"
    ) -> TenantInfo:
        """Create tenant ``slug`` with its storage at the current schema revision.

        A user ``actor`` becomes the tenant's first owner. Two concurrent creations of one
        slug: exactly one succeeds, the other raises :class:`ConflictError`
        (``tenant-exists``). A creation killed half-way leaves nothing that blocks a retry.
        """
        validate_slug(slug)
        by = _actor_text(actor)
        display = (name or slug).strip() or slug
        if len(display) > 200:
            from fleetprompt_sdk.errors import InvalidInputError

            raise InvalidInputError(
                f"tenant name for {slug!r} is {len(display)} characters, at most 200",
                code="invalid-tenant-name",
            )
        schema = schema_name(slug)
        with self.backend.host_transaction() as conn:
            if fetch_tenant(conn, slug) is not None:
                raise _exists(slug)
            values: dict[str, Any] = {
                "slug": slug,
                "display_name": display,
                "status": "active",
                "schema_name": schema,
                "created_by": by,
            }
            if self.dialect == "postgresql":
                from .postgres_backend import new_password, role_name

                values["db_role"] = role_name(self.backend.database, schema)  # type: ignore[attr-defined]
                values["db_password"] = new_password()
            try:
                # The unique slug makes a concurrent creator wait here, then fail.
                conn.execute(insert(TenantRow).values(**values))
            except exc.IntegrityError:
                raise _exists(slug) from None
            row = fetch_tenant(conn, slug)
            assert row is not None

            def initialize(tconn: Connection) -> None:
                if by.startswith("user:"):
                    tconn.execute(insert(MemberRow).values(actor=by, role="owner", added_by=by))

            revision = self.backend.create_tenant_storage(
                conn, row, initialize, lambda: pause_point("tenant-create")
            )
            conn.execute(
                update(TenantRow)
                .where(TenantRow.slug == slug)
                .values(schema_revision=revision, migrated_at=utcnow())
            )
            audit(conn, by, "tenant.create", slug, revision=revision)
            created = fetch_tenant(conn, slug)
        assert created is not None
        return TenantInfo.from_row(created)

    def get_tenant(self, slug: str) -> TenantInfo:
        """Return tenant ``slug``; raise :class:`NotFoundError` (``tenant-not-found``)."""
        validate_slug(slug)
        return TenantInfo.from_row(self._active_row(slug))

    def list_tenants(self) -> list[TenantInfo]:
        """Return every tenant, ordered by slug."""
        with self.backend.host_transaction(write=False) as conn:
            return [TenantInfo.from_row(row) for row in fetch_tenants(conn)]

    def delete_tenant(self, slug: str, actor: Actor | str = "system:fleetprompt") -> None:
        """Drop tenant ``slug``'s data (schema and role, or file) and its registry row."""
        validate_slug(slug)
        by = _actor_text(actor)
        # The tenant's storage lock is taken before the host's, the order tenant writers
        # take them in (a tenant transaction may mark work due in the host).
        lock = self.backend.tenant_storage_lock(schema_name(slug))
        with lock, self.backend.host_transaction() as conn:
            row = fetch_tenant(conn, slug)
            if row is None:
                raise NotFoundError(f"tenant {slug!r} does not exist", code="tenant-not-found")
            self._kept.drop(slug)
            self._handles.discard(slug)
            self.backend.drop_tenant_storage(conn, row)
            conn.execute(delete(TenantRow).where(TenantRow.slug == slug))
            audit(conn, by, "tenant.delete", slug)

    def forget_tenant_engine(self, slug: str) -> None:
        """Dispose this process's cached engine for ``slug`` (after out-of-band changes)."""
        self._kept.drop(slug)
        self._handles.discard(slug)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close every pooled connection (host and tenants)."""
        self._kept.drop()
        self._handles.clear()
        self.backend.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.masked_url!r})"


def _exists(slug: str) -> ConflictError:
    return ConflictError(f"tenant {slug!r} already exists", code="tenant-exists")


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
