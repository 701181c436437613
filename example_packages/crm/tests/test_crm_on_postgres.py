"""The authors' fixtures on PostgreSQL (``--fleetprompt-db``), with a reachable server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetprompt_host.testing.postgres import PostgresServer, postgres_required, server_url

TWO_TESTS = """
import pytest

pytestmark = pytest.mark.fleetprompt(install=["crm"])


@pytest.mark.parametrize("name", ["ada", "grace"])
def test_each_test_starts_from_a_tenant_without_contacts(fp_tenant, name):
    assert fp_tenant.records("contacts") == []
    outcome = fp_tenant.call_tool("create_contact", {"name": name, "email": name + "@x.example"})
    assert outcome.directive["status"] == "succeeded"
"""

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database (dropped after the test, with its roles)."""
    server = PostgresServer(server_url())
    reason = server.unreachable_reason()
    if reason is not None:
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    url = server.create_database("fp_examples")
    try:
        yield url
    finally:
        server.drop_all()


def test_two_tests_in_a_row_each_get_a_fresh_tenant_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    (tmp_path / "test_two.py").write_text(TWO_TESTS, encoding="utf-8")
    options = ["-q", "-p", "no:cacheprovider", f"--fleetprompt-db={postgres_url}"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *options, "test_two.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
