"""SQLite storage: a host file plus one file per tenant, each tenant on its own engine.

Tenant ``acme`` lives in ``<tenants dir>/org_acme.sqlite``. Its connections open the file
read-write without creating it (a deleted tenant is never silently recreated), run in WAL
mode with a busy timeout, begin write transactions with ``BEGIN IMMEDIATE`` (so two
writers queue instead of deadlocking on a lock upgrade) and carry an authorizer that
refuses ATTACH, DDL and pragma changes (see :mod:`.sqlite_guard`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, delete, event, exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from . import migrate, sqlite_dialect, sqlite_template
from .backend import Backend, TenantHandle, TenantInitializer
from .base import HOST_SCHEMA, TENANT_SCHEMA
from .models.host import TenantRow
from .models.signals import SignalRow
from .sqlite_guard import install as install_guard
from .tenant_engines import SharedDialectEngines

BUSY_TIMEOUT_MS = 30_000
_TENANT_MAP: dict[str, str | None] = {TENANT_SCHEMA: None}


def _engine(
    path: Path,
    *,
    create: bool,
    guarded: bool,
    wal: bool,
    readonly: bool = False,
    shared: SharedDialectEngines | None = None,
    **options: Any,
) -> Engine:
    """Return an engine on ``path`` with FleetPrompt's dialect and per-connection pragmas.

    The dialect emits each transaction's BEGIN (see :mod:`.sqlite_dialect`); the only
    listener is the pool's ``connect``, so SQLAlchemy dispatches no connection events.
    A ``readonly`` engine's connections are ``query_only`` from the start. With
    ``shared``, the engine shares its dialect and compiled statements with the other
    tenants' (:mod:`.tenant_engines`).
    """
    mode = "rwc" if create else "rw"
    url = make_url(
        f"sqlite+{sqlite_dialect.DRIVER}:///file:{quote(str(path))}?mode={mode}&uri=true"
    )
    connect_args = {"factory": sqlite_dialect.FleetPromptConnection}
    if shared is None:
        engine = create_engine(url, connect_args=connect_args, **options)
    else:
        engine = shared.engine(url, connect_args=connect_args, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # isolation_level=None stops pysqlite's implicit BEGINs: the dialect emits them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        if readonly:
            cursor.execute("PRAGMA query_only = 1")
            dbapi_connection.fp_query_only = dbapi_connection.fp_readonly = True
        cursor.close()
        if guarded:
            dbapi_connection.fp_guard = install_guard(dbapi_connection)

    return engine


class SqliteBackend(Backend):
    """Host tables in the host file; each tenant in its own file next to it."""

    name = "sqlite"

    def __init__(self, url: str, *, pool_size: int = 1, max_overflow: int = 4) -> None:
        self.host_path = Path(str(make_url(url).database)).expanduser().resolve()
        self.host_path.parent.mkdir(parents=True, exist_ok=True)
        stem = self.host_path.stem
        # A non-default host file gets its own tenants directory, so two host databases
        # in one directory never share tenant files.
        self.tenants_dir = self.host_path.parent / (
            "tenants" if stem == "fleetprompt" else f"{stem}-tenants"
        )
        self.tenants_dir.mkdir(parents=True, exist_ok=True)
        self.host_engine = _engine(self.host_path, create=True, guarded=False, wal=True)
        self.host_translate_map = {HOST_SCHEMA: None}
        self._host_view = self.host_engine.execution_options(
            schema_translate_map=self.host_translate_map
        )
        self._pool: dict[str, Any] = {"pool_size": pool_size, "max_overflow": max_overflow}
        self._tenant_engines = SharedDialectEngines(make_url(f"sqlite+{sqlite_dialect.DRIVER}://"))

    # -- host ---------------------------------------------------------------------------

    @contextmanager
    def host_transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """Yield a host connection in a transaction (``BEGIN IMMEDIATE`` when writing)."""
        with self._host_view.connect() as conn:
            sqlite_dialect.set_mode(conn.connection, readonly=not write)
            with conn.begin():
                yield conn

    def prepare_host(self, conn: Connection) -> None:
        """Nothing to prepare: the host file is the host schema."""

    # -- tenant files -------------------------------------------------------------------

    def tenant_path(self, schema: str) -> Path:
        """Return the file of tenant schema ``schema``."""
        return self.tenants_dir / f"{schema}.sqlite"

    def _remove_files(self, schema: str) -> None:
        path = self.tenant_path(schema)
        leftovers = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")]
        leftovers += list(self.tenants_dir.glob(f"{path.name}.tmp-*"))
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)

    @contextmanager
    def _maintenance(
        self, path: Path, *, create: bool = False, wal: bool | None = None
    ) -> Iterator[Connection]:
        """An unguarded, unpooled connection to a tenant file, inside a transaction.

        ``wal`` defaults to ``not create``: a file being built stays in rollback-journal
        mode until its first tenant connection switches it to WAL.
        """
        engine = _engine(
            path,
            create=create,
            guarded=False,
            wal=not create if wal is None else wal,
            poolclass=NullPool,
        )
        try:
            with engine.connect() as conn:
                conn.execution_options(schema_translate_map=_TENANT_MAP)
                with conn.begin():
                    yield conn
        finally:
            engine.dispose()

    def create_tenant_storage(
        self,
        conn: Connection,
        row: TenantRow,
        initializer: TenantInitializer,
        pause: Callable[[], None],
    ) -> str:
        """Copy the tenant image to a temporary name, initialize it, rename it into place.

        The image is the tenant schema at head, built once by the migrations (see
        :mod:`.sqlite_template`). The caller holds the host write lock and no registry
        row exists for this slug, so any file left by a crashed earlier attempt is an
        orphan and is removed first.
        """
        self._remove_files(row.schema_name)
        path = self.tenant_path(row.schema_name)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        data = sqlite_template.image(
            sqlite_template.cache_dir(self.host_path),
            self.tenants_dir,
            lambda new: self._maintenance(new, create=True),
        )
        with open(tmp, "xb") as out:
            out.write(data)
        with self._maintenance(tmp, wal=False) as tconn:
            stamped = tconn.exec_driver_sql(f"SELECT version_num FROM {migrate.VERSION_TABLE}")
            revision = str(stamped.scalar_one())
            initializer(tconn)
            pause()
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(self.tenants_dir)
        assert revision is not None
        return revision

    def drop_tenant_storage(self, conn: Connection, row: TenantRow) -> None:
        """Delete the tenant's file (and its WAL files); see :meth:`tenant_storage_lock`."""
        self._remove_files(row.schema_name)
        _fsync_dir(self.tenants_dir)

    @contextmanager
    def tenant_storage_lock(self, schema: str) -> Iterator[None]:
        """Hold the write lock of the tenant's file, if it is a database.

        Taking it waits for write transactions already running on the file (in any
        process) to finish, and a writer that begins after the unlink finds the file gone
        (:meth:`handle_is_valid` runs after ``BEGIN IMMEDIATE``): no write that starts
        after a delete lands in the deleted tenant. Nothing to lock when there is no file
        or it is not a database (nothing can be writing to it).
        """
        with ExitStack() as stack:
            with suppress(exc.DBAPIError):
                stack.enter_context(self._maintenance(self.tenant_path(schema), wal=False))
            yield

    def open_tenant(self, row: TenantRow) -> TenantHandle:
        """Return a handle on a pooled, guarded engine for the tenant's file."""
        path = self.tenant_path(row.schema_name)
        engine = _engine(
            path, create=False, guarded=True, wal=True, shared=self._tenant_engines, **self._pool
        )
        # Read-only sessions get connections of their own, query_only for life: a
        # connection switching modes would run a pragma at every switch (~20 us).
        reader = _engine(
            path,
            create=False,
            guarded=True,
            wal=True,
            readonly=True,
            shared=self._tenant_engines,
            **self._pool,
        )
        extra = {"path": str(path), "identity": _identity(str(path))}
        return TenantHandle(row.slug, row.schema_name, engine, _TENANT_MAP, extra, reader)

    def handle_is_valid(self, handle: TenantHandle) -> bool:
        """A handle is stale once its file is gone or replaced (by another process).

        Pooled connections keep the file they opened even after it is unlinked, so the
        file now at the path must be the one the handle was opened on (same inode).
        """
        identity = handle.extra["identity"]
        return identity is not None and _identity(handle.extra["path"]) == identity

    def begin_tenant(self, conn: Connection, readonly: bool) -> None:
        """Begin (deferred when read-only); the dialect switches ``query_only`` to match."""
        sqlite_dialect.set_mode(conn.connection, readonly=readonly)
        conn.begin()

    def migrate_tenant(
        self,
        conn: Connection,
        row: TenantRow,
        target: str,
        extra_locations: Sequence[str] = (),
        downgrade: bool = False,
    ) -> str | None:
        """Migrate the tenant's file in its own transaction."""
        path = self.tenant_path(row.schema_name)
        if not path.exists():
            raise FileNotFoundError(f"tenant file {path} is missing")
        with self._maintenance(path) as tconn:
            run = migrate.downgrade if downgrade else migrate.upgrade
            return run(tconn, "tenant", None, target, extra_locations)

    def tenant_revision(self, conn: Connection, row: TenantRow) -> str | None:
        """Read the revision stored in the tenant's file (None when the file is missing)."""
        path = self.tenant_path(row.schema_name)
        if not path.exists():
            return None
        with self._maintenance(path) as tconn:
            return migrate.current_revision(tconn, None)

    def delete_signals(self, conn: Connection, row: TenantRow, where: Any) -> int:
        """Lift the delete trigger for one transaction, delete, and put it back verbatim."""
        with self._maintenance(self.tenant_path(row.schema_name)) as tconn:
            trigger_sql = tconn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                ("signals_no_delete",),
            ).scalar_one()
            tconn.exec_driver_sql("DROP TRIGGER signals_no_delete")
            deleted = tconn.execute(delete(SignalRow).where(where)).rowcount
            tconn.exec_driver_sql(trigger_sql)
            return int(deleted)


def _identity(path: str) -> tuple[int, int] | None:
    """Return the (device, inode) of ``path``, or None when nothing is there."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)


def _fsync_file(path: Path) -> None:
    """Make the content of ``path`` durable before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
