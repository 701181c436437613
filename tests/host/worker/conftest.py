"""Fixtures for the worker tests: the ``fpwork`` package installed as a real distribution,
a tenant with it installed, and real ``fleetprompt worker`` subprocesses.

Every worker process gets the distribution on ``PYTHONPATH`` and ``FLEETPROMPT_PACKAGES=fpwork``,
exactly as an operator's environment would provide a package. Processes a test starts are
killed when it ends.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from fleetprompt_host.discovery import discover
from fleetprompt_host.engine.directives import DirectiveRequest, request_directive
from fleetprompt_host.engine.installed import mark_installed
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import (
    DeliveryRow,
    DirectiveRow,
    ExecutionRow,
    RecordRow,
    SignalRow,
    TenantWorkRow,
)

ACTOR = "system:tests"
#: Source of the ``fpwork`` distribution: its code, manifest, METADATA and entry points.
DISTRIBUTION = Path(__file__).parent / "fpwork_dist"


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def _record(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


@pytest.fixture(scope="session")
def work_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the installed ``fpwork`` distribution (code, manifest and
    a ``.dist-info`` with its entry point and RECORD)."""
    site = tmp_path_factory.mktemp("worksite")
    dist_info = "fpwork_pkg-1.0.0.dist-info"
    files: dict[str, bytes] = {}
    for source in sorted(DISTRIBUTION.rglob("*")):
        rel = source.relative_to(DISTRIBUTION).as_posix()
        if source.is_dir() or "__pycache__" in rel:
            continue
        target = f"{dist_info}/{rel}" if rel in ("METADATA", "entry_points.txt") else rel
        files[target] = source.read_bytes()
    records = [_record(name, data) for name, data in files.items()]
    files[f"{dist_info}/RECORD"] = "\n".join([*records, f"{dist_info}/RECORD,,"]).encode()
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
    return site


@pytest.fixture(scope="session")
def work_registry(work_site: Path) -> PackageRegistry:
    """A registry holding only ``fpwork``, discovered from its installed distribution."""
    registry = discover([work_site], enabled={"fpwork"})
    registry.get("fpwork")
    return registry


@dataclass
class Lab:
    """A tenant with ``fpwork`` installed, and the tools to drive workers against it."""

    url: str
    db: Database
    registry: PackageRegistry
    site: Path
    tmp: Path
    tenant: str = "acme"
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.db.dialect

    def add_tenant(self, slug: str) -> None:
        """Create tenant ``slug`` with ``fpwork`` installed."""
        self.db.create_tenant(slug, actor=ACTOR)
        with self.db.tenant_session(slug) as session:
            mark_installed(session, "fpwork", "1.0.0")

    def request(
        self,
        type_: str,
        params: list[dict[str, Any]],
        *,
        tenant: str | None = None,
        max_attempts: int = 3,
        chunk: int = 500,
    ) -> list[str]:
        """Request one ``type_`` directive per params dict (in chunks); return their ids."""
        ids: list[str] = []
        for start in range(0, len(params), chunk):
            with self.db.tenant_session(tenant or self.tenant) as session:
                for p in params[start : start + chunk]:
                    req = DirectiveRequest(type_, p, actor=ACTOR, max_attempts=max_attempts)
                    directive, _ = request_directive(
                        session, self.registry, tenant or self.tenant, req
                    )
                    ids.append(directive.id)
        return ids

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a worker process: the package on the path, a private home."""
        env = dict(os.environ)
        env.pop("FLEETPROMPT_DATABASE_URL", None)
        path = [str(self.site), env.get("PYTHONPATH", "")]
        env.update(
            PYTHONPATH=os.pathsep.join(p for p in path if p),
            FLEETPROMPT_PACKAGES="fpwork",
            FLEETPROMPT_HOME=str(self.tmp / "home"),
            **extra,
        )
        return env

    def worker(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start ``fleetprompt worker ARGS`` in a subprocess (output kept in tmp files)."""
        index = len(self.procs)
        out = (self.tmp / f"worker-{index}.out").open("wb")
        err = (self.tmp / f"worker-{index}.err").open("wb")
        cmd = [sys.executable, "-m", "fleetprompt_host", "--db", self.url, "worker", *args]
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=self.env(**env))
        self.procs.append(proc)
        return proc

    def output(self, proc: subprocess.Popen[bytes], parts: tuple[str, ...] = ("out", "err")) -> str:
        """Return what ``proc`` wrote (stdout, then stderr)."""
        index = self.procs.index(proc)
        return "".join(
            (self.tmp / f"worker-{index}.{part}").read_text(errors="replace") for part in parts
        )

    def finish(self, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> int:
        """Wait for ``proc`` to exit; return its exit code."""
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"worker did not exit within {timeout}s:\n{self.output(proc)[-3000:]}")

    def statuses(self, tenant: str | None = None) -> dict[str, int]:
        """Return the number of directives per status."""
        with self.db.tenant_session(tenant or self.tenant, readonly=True) as session:
            rows = session.execute(
                select(DirectiveRow.status, func.count()).group_by(DirectiveRow.status)
            )
            return {status: count for status, count in rows}

    def directives(self, type_: str, tenant: str | None = None) -> list[DirectiveRow]:
        """Return the directives of ``type_`` (detached)."""
        with self.db.tenant_session(tenant or self.tenant, readonly=True) as session:
            rows = session.execute(select(DirectiveRow).where(DirectiveRow.type == type_))
            found = list(rows.scalars())
            session.expunge_all()
            return found

    def scalars(self, stmt: Any, tenant: str | None = None) -> list[Any]:
        """Run ``stmt`` in the tenant and return its first column."""
        with self.db.tenant_session(tenant or self.tenant, readonly=True) as session:
            return list(session.execute(stmt).scalars())

    def item_numbers(self) -> list[int]:
        """The ``n`` of every record written by ``fpwork.item.process``."""
        return [
            int(data["n"])
            for data in self.scalars(select(RecordRow.data).where(RecordRow.package == "fpwork"))
        ]

    def signal_numbers(self, type_: str) -> list[int]:
        """The ``n`` of every signal of ``type_``."""
        stmt = select(SignalRow.data).where(SignalRow.type == type_)
        return [int(data["n"]) for data in self.scalars(stmt)]

    def deliveries(self) -> dict[str, int]:
        """Return the number of deliveries per status."""
        with self.db.tenant_session(self.tenant, readonly=True) as session:
            rows = session.execute(
                select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            )
            return {status: count for status, count in rows}

    def executions(self, kind: str) -> list[dict[str, Any]]:
        """The summaries of the executions of ``kind``."""
        stmt = select(ExecutionRow.summary).where(ExecutionRow.kind == kind)
        return [dict(summary) for summary in self.scalars(stmt)]

    def stop_all(self) -> None:
        """Kill every process still running (a stopped one is continued first)."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGCONT)
                    proc.kill()
                except ProcessLookupError:
                    pass
                proc.wait()


def _lab(url: str, site: Path, registry: PackageRegistry, tmp: Path) -> Iterator[Lab]:
    database = Database(url)
    subject = Lab(url, database, registry, site, tmp)
    subject.add_tenant("acme")
    try:
        yield subject
    finally:
        subject.stop_all()
        for tenant in database.list_tenants():
            database.delete_tenant(tenant.slug)
        with database.host_session() as session:
            session.execute(delete(TenantWorkRow))
        database.close()


@pytest.fixture
def lab(
    db_url: str, work_site: Path, work_registry: PackageRegistry, tmp_path: Path
) -> Iterator[Lab]:
    """Tenant ``acme`` with ``fpwork`` installed, on SQLite and on PostgreSQL."""
    yield from _lab(db_url, work_site, work_registry, tmp_path)


@pytest.fixture
def pg_lab(
    fp_postgres_url: str, work_site: Path, work_registry: PackageRegistry, tmp_path: Path
) -> Iterator[Lab]:
    """Tenant ``acme`` with ``fpwork`` installed, on PostgreSQL only."""
    yield from _lab(fp_postgres_url, work_site, work_registry, tmp_path)


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    """The condition poller (see :func:`wait_until`)."""
    return wait_until
