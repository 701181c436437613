"""pytest fixtures: ``fp_postgres`` (session), ``db_url`` and ``db`` (both backends).

Import them into a ``conftest.py`` (see the package doc).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .postgres import PostgresServer, postgres_required, server_url

if TYPE_CHECKING:
    from fleetprompt_host.storage import Database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def fp_postgres() -> Iterator[PostgresServer | str]:
    """The test PostgreSQL server, or the reason it cannot be used (a string)."""
    server = PostgresServer(server_url())
    reason = server.unreachable_reason()
    if reason is not None:
        yield reason
        return
    try:
        yield server
    finally:
        server.drop_all()


def require_postgres(fp_postgres: PostgresServer | str) -> PostgresServer:
    """Return the server, or skip (fail when ``FLEETPROMPT_TEST_REQUIRE_POSTGRES=1``)."""
    if isinstance(fp_postgres, str):
        if postgres_required():
            pytest.fail(f"{fp_postgres} (FLEETPROMPT_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(fp_postgres)
    return fp_postgres


@pytest.fixture(scope="session")
def fp_postgres_url(fp_postgres: PostgresServer | str) -> str:
    """URL of this test session's throwaway PostgreSQL database (created on first use)."""
    server = require_postgres(fp_postgres)
    return server.create_database()


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: the backend this test instance runs on."""
    return str(request.param)


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database URL on the test's backend; every tenant in it is deleted afterwards."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fp-home' / 'fleetprompt.sqlite'}"
        return
    url = str(request.getfixturevalue("fp_postgres_url"))
    yield url
    _delete_all_tenants(url)


def _delete_all_tenants(url: str) -> None:
    from fleetprompt_host.storage import Database

    with Database(url, check_revision=False) as database:
        for tenant in database.list_tenants():
            database.delete_tenant(tenant.slug)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """An open :class:`~fleetprompt_host.storage.Database` on the test's backend."""
    from fleetprompt_host.storage import Database

    database = Database(db_url)
    try:
        yield database
    finally:
        database.close()
