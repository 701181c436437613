"""The PostgreSQL server the benchmarks use, from ``FLEETPROMPT_BENCH_POSTGRES_URL``."""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

from fleetprompt_host.testing.postgres import PostgresServer

URL_ENV = "FLEETPROMPT_BENCH_POSTGRES_URL"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/postgres"


def bench_server(what: str = "PostgreSQL figures") -> PostgresServer | None:
    """Return the benchmarks' server, or None (saying why ``what`` is skipped) when it
    cannot be reached. Benchmarks create their throwaway databases on it."""
    admin = make_url(os.environ.get(URL_ENV) or DEFAULT_URL)
    server = PostgresServer(admin.set(drivername="postgresql+psycopg"))
    reason = server.unreachable_reason()
    if reason:
        print(f"skipped {what}: {reason}", flush=True)
        return None
    return server
