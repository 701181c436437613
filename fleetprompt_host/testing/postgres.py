"""Throwaway PostgreSQL databases for tests: created per test session, dropped after."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

URL_ENV = "FLEETPROMPT_TEST_POSTGRES_URL"
REQUIRE_ENV = "FLEETPROMPT_TEST_REQUIRE_POSTGRES"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"


def server_url() -> URL:
    """Return the URL of the test server's maintenance database (``postgres``)."""
    url = make_url(os.environ.get(URL_ENV) or DEFAULT_URL)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.set(database=url.database or "postgres")


def postgres_required() -> bool:
    """Return True when a missing server must fail the tests instead of skipping them."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def role_tag(database: str) -> str:
    """Return the tag FleetPrompt puts in the names of the roles it creates for ``database``."""
    return "fp" + hashlib.sha256(database.encode()).hexdigest()[:8] + "_"


@dataclass
class PostgresServer:
    """A reachable test server on which databases are created and dropped."""

    url: URL
    created: list[str] = field(default_factory=list)

    def admin_engine(self) -> Engine:
        """Return an autocommit engine on the maintenance database."""
        return create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def unreachable_reason(self) -> str | None:
        """Return why the server cannot be used, or None when it can."""
        try:
            engine = self.admin_engine()
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:
            first = str(getattr(exc, "orig", exc)).strip().splitlines()
            return f"PostgreSQL at {self.url.render_as_string()} unreachable: " + (
                first[0] if first else type(exc).__name__
            )
        return None

    def create_database(self, prefix: str = "fp_test", owner: str | None = None) -> str:
        """Create a database named ``<prefix>_<random>`` and return its URL."""
        name = f"{prefix}_{secrets.token_hex(5)}"
        engine = self.admin_engine()
        with engine.connect() as conn:
            owner_sql = f' OWNER "{owner}"' if owner else ""
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{owner_sql}')
        engine.dispose()
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        """Terminate the database's connections, drop it and the roles made for it."""
        engine = self.admin_engine()
        with engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            roles = conn.execute(
                text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :tag)"),
                {"tag": role_tag(name)},
            ).scalars()
            for role in list(roles):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        engine.dispose()
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        """Drop every database this object created."""
        for name in list(self.created):
            self.drop_database(name)

    def drop_role(self, role: str) -> None:
        """Drop a cluster-wide role a test created (after its databases are gone)."""
        engine = self.admin_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        engine.dispose()
