"""PostgreSQL storage: host tables in schema ``fleetprompt``, each tenant in ``org_<slug>``.

Isolation is enforced by the database. Every tenant has its own LOGIN role with a
generated password, and a tenant session *connects as that role*: there is no more
privileged session user underneath to ``RESET ROLE`` back to, the role is a member of
nothing, and it holds only ``USAGE`` on its schema, DML on its tables and ``SELECT, INSERT``
on ``signals``. The host role owns every schema and table (so a tenant cannot drop a
trigger, a table or a schema), and nothing in the host schema is granted to anyone. See
``docs/storage.md`` for the designs that were measured and rejected.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import create_engine, delete, event, exc, text
from sqlalchemy.engine import Connection, make_url

from . import migrate
from .backend import Backend, TenantHandle, TenantInitializer
from .base import HOST_SCHEMA, TENANT_SCHEMA
from .models.host import TenantRow
from .models.signals import SignalRow
from .tenant_engines import SharedDialectEngines

#: A host connection is replaced after touching this many tenant schemas, which bounds
#: the catalog caches a long-lived backend accumulates (see bench/storage_bench.py).
SCHEMAS_PER_HOST_CONNECTION = 200
_TOUCHED = "fp_schemas_touched"
_HOST_LOCK = "fleetprompt.host-migrations"


def role_name(database: str, schema: str) -> str:
    """Return the tenant role of ``schema`` in ``database``.

    Roles are cluster-wide, so the name carries a short digest of the database name:
    two FleetPrompt databases (or two test runs) on one server never share a role.
    """
    tag = hashlib.sha256(database.encode()).hexdigest()[:8]
    return f"fp{tag}_{schema}"


class PostgresBackend(Backend):
    """Schema-per-tenant storage with one login role per tenant (see module doc)."""

    name = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        tenant_pool_size: int = 1,
        tenant_max_overflow: int = 4,
    ) -> None:
        self.url = make_url(url)
        self.database = str(self.url.database)
        self.host_engine = create_engine(
            self.url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
        self.host_translate_map = {}
        self._tenant_pool = {"pool_size": tenant_pool_size, "max_overflow": tenant_max_overflow}
        # No tenant column is HSTORE; looking its type up would cost a catalog query on
        # a new connection (about a quarter of a cold session, bench/storage_bench.py).
        self._tenant_engines = SharedDialectEngines(self.url, use_native_hstore=False)
        self._superuser: bool | None = None

        @event.listens_for(self.host_engine, "checkout")
        def _bound_catalog_cache(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            if record.info.get(_TOUCHED, 0) >= SCHEMAS_PER_HOST_CONNECTION:
                # The pool discards this connection and hands out a fresh one.
                raise exc.DisconnectionError("recycling a host connection with a large cache")

    # -- host ---------------------------------------------------------------------------

    @contextmanager
    def host_transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """Yield a host connection inside a transaction."""
        with self.host_engine.connect() as conn, conn.begin():
            yield conn

    def _is_superuser(self, conn: Connection) -> bool:
        if self._superuser is None:
            value = conn.exec_driver_sql(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            self._superuser = bool(value.scalar())
        return self._superuser

    def prepare_host(self, conn: Connection) -> None:
        """Create the host schema, serialise concurrent first runs, lock down defaults."""
        q = conn.dialect.identifier_preparer.quote
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _HOST_LOCK})
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {q(HOST_SCHEMA)}")
        conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {q(HOST_SCHEMA)} FROM PUBLIC")
        # Only roles granted CONNECT (tenant roles of this database) may connect, and no
        # one but the owner may create objects in public. Needs database ownership: a host
        # role that lacks it keeps working, and docs/storage.md says how to do it by hand.
        for statement in (
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            f"REVOKE ALL ON DATABASE {q(self.database)} FROM PUBLIC",
        ):
            with suppress(exc.ProgrammingError), conn.begin_nested():
                conn.exec_driver_sql(statement)

    # -- tenants ------------------------------------------------------------------------

    def _touch(self, conn: Connection) -> None:
        info = conn.connection.info
        info[_TOUCHED] = info.get(_TOUCHED, 0) + 1

    def _tenant_conn(self, conn: Connection, schema: str) -> Connection:
        return conn.execution_options(schema_translate_map={TENANT_SCHEMA: schema})

    def create_tenant_storage(
        self,
        conn: Connection,
        row: TenantRow,
        initializer: TenantInitializer,
        pause: Callable[[], None],
    ) -> str:
        """Create role, schema, tables and grants inside the caller's host transaction.

        PostgreSQL DDL (roles included) is transactional: a crash or a failure anywhere
        rolls all of it back together with the registry row.
        """
        self._touch(conn)
        q = conn.dialect.identifier_preparer.quote
        schema, role = row.schema_name, str(row.db_role)
        password = str(row.db_password)
        # Utility statements take no bind parameters; the password is hex, the role and
        # schema names derive from a validated slug, and both are quoted.
        self._drop_role(conn, role)
        conn.exec_driver_sql(
            f"CREATE ROLE {q(role)} LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"NOREPLICATION NOBYPASSRLS PASSWORD '{password}'"
        )
        if not self._is_superuser(conn):
            # Lets a non-superuser host role end the tenant's sessions on delete.
            conn.exec_driver_sql(f"GRANT {q(role)} TO CURRENT_USER")
        conn.exec_driver_sql(f"CREATE SCHEMA {q(schema)}")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {q(schema)} TO {q(role)}")
        conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {q(self.database)} TO {q(role)}")
        conn.exec_driver_sql(
            f"ALTER ROLE {q(role)} IN DATABASE {q(self.database)} SET search_path = {q(schema)}"
        )
        tconn = self._tenant_conn(conn, schema)
        revision = migrate.upgrade(tconn, "tenant", schema)
        self.apply_grants(conn, schema, role)
        initializer(tconn)
        pause()
        conn.execution_options(schema_translate_map=self.host_translate_map)
        assert revision is not None
        return revision

    def apply_grants(self, conn: Connection, schema: str, role: str) -> None:
        """Grant the tenant role DML on its tables, but only SELECT/INSERT on signals."""
        q = conn.dialect.identifier_preparer.quote
        s, r = q(schema), q(role)
        conn.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}"
        )
        conn.exec_driver_sql(f"REVOKE UPDATE, DELETE ON {s}.signals FROM {r}")
        conn.exec_driver_sql(f"REVOKE INSERT, UPDATE, DELETE ON {s}.alembic_version FROM {r}")
        conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}")

    def drop_tenant_storage(self, conn: Connection, row: TenantRow) -> None:
        """End the tenant's sessions, drop its schema, its privileges and its role."""
        self._touch(conn)
        q = conn.dialect.identifier_preparer.quote
        role = str(row.db_role)
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = :role AND pid <> pg_backend_pid()"
            ),
            {"role": role},
        )
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {q(row.schema_name)} CASCADE")
        self._drop_role(conn, role)

    def _drop_role(self, conn: Connection, role: str) -> None:
        """Drop ``role`` and its privileges here, if it exists.

        Before a creation this removes a role orphaned by a dropped database of the same
        name: the registry row just inserted proves no live tenant of ours uses it.
        """
        q = conn.dialect.identifier_preparer.quote
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if exists.scalar():
            conn.exec_driver_sql(f"DROP OWNED BY {q(role)}")
            conn.exec_driver_sql(f"DROP ROLE {q(role)}")

    def open_tenant(self, row: TenantRow) -> TenantHandle:
        """Return a handle whose engine logs in as the tenant's own role."""
        url = self.url.set(username=row.db_role, password=row.db_password)
        engine = self._tenant_engines.engine(
            url,
            connect_args={"options": f"-c search_path={row.schema_name}"},
            recycle=3600,
            **self._tenant_pool,
        )
        return TenantHandle(row.slug, row.schema_name, engine, {TENANT_SCHEMA: row.schema_name})

    def handle_is_valid(self, handle: TenantHandle) -> bool:
        """Cached handles stay valid; a dropped role fails loudly at its next connect."""
        return True

    def begin_tenant(self, conn: Connection, readonly: bool) -> None:
        """Begin; a read-only session's transaction starts with ``BEGIN READ ONLY``.

        psycopg sends BEGIN itself, with the connection's ``read_only`` attribute in it,
        so read-only costs no round trip of its own; and a raw ``COMMIT`` or ``ROLLBACK``
        in the block does not leave read-only mode, as psycopg's next BEGIN is read-only
        too. The attribute lives on the pooled connection and is set only when it must
        change (it can be set only outside a transaction, as at checkout).
        """
        raw = conn.connection.dbapi_connection
        wanted = True if readonly else None
        if raw.read_only is not wanted:  # type: ignore[union-attr]
            raw.read_only = wanted  # type: ignore[union-attr]
        conn.begin()

    def migrate_tenant(
        self,
        conn: Connection,
        row: TenantRow,
        target: str,
        extra_locations: Sequence[str] = (),
        downgrade: bool = False,
    ) -> str | None:
        """Migrate in the caller's host transaction, then re-apply the tenant's grants."""
        self._touch(conn)
        tconn = self._tenant_conn(conn, row.schema_name)
        run = migrate.downgrade if downgrade else migrate.upgrade
        revision = run(tconn, "tenant", row.schema_name, target, extra_locations)
        if revision is not None:
            self.apply_grants(conn, row.schema_name, str(row.db_role))
        conn.execution_options(schema_translate_map=self.host_translate_map)
        return revision

    def tenant_revision(self, conn: Connection, row: TenantRow) -> str | None:
        """Read the revision stored in the tenant's schema."""
        self._touch(conn)
        return migrate.current_revision(conn, row.schema_name)

    def delete_signals(self, conn: Connection, row: TenantRow, where: Any) -> int:
        """Delete through the trigger's retention exemption, set for this transaction only."""
        self._touch(conn)
        conn.exec_driver_sql("SET LOCAL fleetprompt.signal_retention = 'on'")
        tconn = self._tenant_conn(conn, row.schema_name)
        deleted = tconn.execute(delete(SignalRow).where(where)).rowcount
        conn.exec_driver_sql("SET LOCAL fleetprompt.signal_retention = 'off'")
        conn.execution_options(schema_translate_map=self.host_translate_map)
        return int(deleted)


def new_password() -> str:
    """Return a fresh tenant role password (hex, so it is safe inside a DDL literal)."""
    return secrets.token_hex(24)
