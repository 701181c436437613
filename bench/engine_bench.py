"""Engine benchmarks: signal emit, directive throughput, request-to-start latency.

Each figure is printed next to a baseline measured in the same run, as a ratio:
- emitting signals one per transaction (SQLite, PostgreSQL) vs. a bare single-row INSERT +
  COMMIT into a table of the same shape (target ratio >= 0.5), and 100 per transaction
  (one batch emit, ``emit_signals``) vs. a bare 100-row batched insert (>= 0.5);
- directives per second on PostgreSQL with 1, 2 and 4 worker processes (no-op handler, full
  records: status, lifecycle signals, execution) vs. a bare SKIP LOCKED queue written here
  (claim one row, mark it done; >= 0.5x) and vs. procrastinate when it can be installed
  into a throwaway virtualenv (never a project dependency);
- request-to-handler-start latency with an idle worker woken by LISTEN/NOTIFY: p50 and p99
  (targets 3 ms / 10 ms) vs. a bare NOTIFY-to-LISTEN round trip.

PostgreSQL comes from ``FLEETPROMPT_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); everything happens in throwaway
databases that are dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench_parts import (
    BARE_QUEUE_WORKER,
    PROCRASTINATE_SETUP,
    PROCRASTINATE_WORKER,
    bare_notify_latency,
    build_site,
    conninfo,
    percentiles,
    procrastinate_python,
    release_processes,
    start_ready,
    wait_all,
)
from postgres_server import bench_server
from sqlalchemy import text, update

from fleetprompt_host.discovery import discover
from fleetprompt_host.engine import scheduler
from fleetprompt_host.engine.batch import emit_signals
from fleetprompt_host.engine.directives import DirectiveRequest, request_directive
from fleetprompt_host.engine.installed import mark_installed
from fleetprompt_host.engine.signals import SignalInput, emit
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database, utcnow
from fleetprompt_host.storage.models import DirectiveRow
from fleetprompt_host.testing.postgres import PostgresServer
from fleetprompt_sdk.models import Actor

TENANT = "bench"
BATCH = 100


def rate_line(name: str, rate: float, base_name: str, base: float, target: str = "") -> None:
    """Print ``name: rate/s (baseline: rate/s) ratio`` where higher is better."""
    ratio = rate / base if base else float("inf")
    line = f"{name:<46} {rate:9.0f} /s   {base_name}: {base:9.0f} /s   ratio {ratio:5.2f}x"
    print(line + (f"   (target {target})" if target else ""), flush=True)


def rate(fn: Callable[[int], object], count: int) -> float:
    """Return calls per second of ``fn(i)`` over ``count`` calls (after one warm-up)."""
    fn(-1)
    started = time.perf_counter()
    for i in range(count):
        fn(i)
    return count / (time.perf_counter() - started)


#: One actor for every signal, as the bare rows carry one actor text.
ACTOR = Actor.parse("system:bench")


def _signal(i: int) -> SignalInput:
    return SignalInput(
        type="fpbench.thing.happened",
        data={"i": i, "name": f"thing {i}"},
        source="bench",
        actor=ACTOR,
        correlation_id=f"c{i}",
    )


def _bare_row(i: int, seq: int) -> tuple[Any, ...]:
    now = utcnow().replace(tzinfo=None).isoformat(sep=" ")
    data = json.dumps({"i": i, "name": f"thing {i}"})
    return (f"{i}-{seq}", seq, "fpbench.thing.happened", data, "bench", "system:bench", now, now)


BARE_INSERT = (
    "INSERT INTO signals (id, seq, type, data, source, actor, occurred_at, recorded_at) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


def _setup_tenant(db: Database) -> None:
    db.create_tenant(TENANT, actor="system:bench")
    with db.tenant_session(TENANT) as session:
        mark_installed(session, "fpbench", "1.0.0")


def bench_signals(
    label: str,
    db: Database,
    registry: PackageRegistry,
    bare_one: Callable[[int], None],
    bare_batch: Callable[[int], None],
    count: int,
) -> None:
    """Emit one per transaction and 100 per transaction, each against its bare baseline."""
    ours = rate(lambda i: emit(db, registry, TENANT, _signal(i)), count)
    rate_line(
        f"{label} signal emit, 1 per transaction",
        ours,
        "bare INSERT+COMMIT",
        rate(bare_one, count),
        ">= 0.5",
    )

    def batch(i: int) -> None:
        with db.tenant_session(TENANT) as session:
            emit_signals(session, registry, TENANT, [_signal(i * BATCH + k) for k in range(BATCH)])

    batches = max(3, count // BATCH)
    ours = rate(batch, batches) * BATCH
    rate_line(
        f"{label} signal emit, {BATCH} per transaction",
        ours,
        f"bare {BATCH}-row insert",
        rate(bare_batch, batches) * BATCH,
        ">= 0.5",
    )


def bench_sqlite(registry: PackageRegistry, quick: bool) -> None:
    """Signal emit on SQLite vs. bare sqlite3 on a file with the same table and pragmas."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/fleetprompt.sqlite")
        _setup_tenant(db)
        tenant_file = Path(tmp) / "tenants" / f"org_{TENANT}.sqlite"
        source = sqlite3.connect(tenant_file)
        ddl = [
            row[0]
            for row in source.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'signals' AND sql IS NOT NULL "
                "AND type IN ('table', 'index')"
            )
        ]
        source.close()
        bare = sqlite3.connect(Path(tmp) / "bare.sqlite", isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000"):
            bare.execute(f"PRAGMA {pragma}")
        for statement in ddl:
            bare.execute(statement)
        seq = iter(range(1, 10**9))
        insert = BARE_INSERT.format(p="?")

        def bare_one(i: int) -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.execute(insert, _bare_row(i, next(seq)))
            bare.execute("COMMIT")

        def bare_batch(i: int) -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.executemany(insert, [_bare_row(i, next(seq)) for _ in range(BATCH)])
            bare.execute("COMMIT")

        bench_signals("SQLite", db, registry, bare_one, bare_batch, 300 if quick else 3000)
        bare.close()
        db.close()


def bench_pg_signals(db: Database, url: str, registry: PackageRegistry, quick: bool) -> None:
    """Signal emit on PostgreSQL vs. bare psycopg into a copy of the signals table."""
    import psycopg

    bare = psycopg.connect(conninfo(url))
    bare.execute("CREATE SCHEMA bare")
    bare.execute(f"CREATE TABLE bare.signals (LIKE org_{TENANT}.signals INCLUDING ALL)")
    bare.execute("SET search_path TO bare")
    bare.commit()
    seq = iter(range(1, 10**9))
    insert = BARE_INSERT.format(p="%s")

    def bare_one(i: int) -> None:
        bare.execute(insert, _bare_row(i, next(seq)))
        bare.commit()

    def bare_batch(i: int) -> None:
        with bare.cursor() as cur:
            cur.executemany(insert, [_bare_row(i, next(seq)) for _ in range(BATCH)])
        bare.commit()

    bench_signals("PG", db, registry, bare_one, bare_batch, 300 if quick else 3000)
    bare.close()


# -- directive throughput ---------------------------------------------------------------------


def fleetprompt_rate(
    db: Database,
    registry: PackageRegistry,
    env: dict[str, str],
    workers: int,
    jobs: int,
    tmp: Path,
) -> float:
    """Directives per second: ``jobs`` no-op directives run by ``workers`` idle worker
    processes, woken together (the directives are made due at once), from the first start
    to the last completion (as for the baselines)."""
    later = utcnow().replace(year=utcnow().year + 1)
    with db.tenant_session(TENANT) as session:
        for i in range(jobs):
            req = DirectiveRequest("fpbench.noop", {"i": i}, actor="system:bench", run_after=later)
            request_directive(session, registry, TENANT, req)
    cmd = [
        sys.executable,
        "-m",
        "fleetprompt_host",
        "--db",
        db.url,
        "worker",
        "--tenant",
        TENANT,
        "--until-idle",
        "--idle-horizon",
        "1e9",
    ]
    procs = start_ready(cmd, workers, env, tmp, ready_text="serving")
    with db.tenant_session(TENANT) as session:
        now = utcnow()
        session.execute(update(DirectiveRow).values(run_after=now))
        scheduler.mark_due(session, TENANT, now)
    wait_all(procs)
    with db.tenant_session(TENANT) as session:
        done, first, last = session.execute(
            text(
                "SELECT count(*), min(started_at), max(completed_at) FROM directives "
                "WHERE status = 'succeeded' AND type = 'fpbench.noop'"
            )
        ).one()
        session.execute(text("DELETE FROM directives"))
    if done != jobs:
        raise RuntimeError(f"only {done} of {jobs} directives succeeded")
    return float(jobs / (last - first).total_seconds())


def bare_queue_rate(url: str, workers: int, jobs: int, tmp: Path) -> float:
    """Jobs per second of the bare SKIP LOCKED queue with ``workers`` processes."""
    import psycopg

    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bare_jobs")
        conn.execute(
            "CREATE TABLE bare_jobs (id bigserial PRIMARY KEY, status text NOT NULL, "
            "payload jsonb NOT NULL, started_at timestamptz, finished_at timestamptz)"
        )
        conn.execute("CREATE INDEX ON bare_jobs (status, id)")
        conn.execute(
            "INSERT INTO bare_jobs (status, payload) "
            "SELECT 'queued', jsonb_build_object('i', i) FROM generate_series(1, %s) i",
            (jobs,),
        )
    cmd = [sys.executable, "-c", BARE_QUEUE_WORKER, conninfo(url)]
    release_processes(cmd, workers, tmp, os.environ.copy())
    with psycopg.connect(conninfo(url)) as conn:
        row = conn.execute(
            "SELECT count(*), min(started_at), max(finished_at) FROM bare_jobs"
        ).fetchone()
    assert row is not None and row[0] == jobs
    return float(jobs / (row[2] - row[1]).total_seconds())


def procrastinate_rate(python: str, url: str, workers: int, jobs: int, tmp: Path) -> float:
    """Jobs per second of procrastinate (its own throwaway database) with ``workers``."""
    import psycopg

    setup = [python, "-c", PROCRASTINATE_SETUP, conninfo(url), str(jobs)]
    subprocess.run(setup, check=True, capture_output=True)
    cmd = [python, "-c", PROCRASTINATE_WORKER, conninfo(url)]
    release_processes(cmd, workers, tmp, os.environ.copy())
    with psycopg.connect(conninfo(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE type = 'succeeded'), "
            "min(at) FILTER (WHERE type = 'started'), max(at) FROM procrastinate_events"
        ).fetchone()
    assert row is not None and row[0] == jobs, row
    return float(jobs / (row[2] - row[1]).total_seconds())


def bench_throughput(
    db: Database,
    url: str,
    server: PostgresServer,
    registry: PackageRegistry,
    env: dict[str, str],
    quick: bool,
) -> None:
    """Directive throughput vs. the bare queue and procrastinate, for 1, 2 and 4 workers."""
    jobs = 300 if quick else 2000
    python = procrastinate_python(Path(tempfile.gettempdir()) / "fp-bench-procrastinate")
    if python is None:
        print("procrastinate: not installable here (no PyPI access?): comparison skipped")
    proc_url = server.create_database("fp_bench_proc") if python else None
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2, 4):
            ours = fleetprompt_rate(db, registry, env, workers, jobs, Path(tmp))
            bare = bare_queue_rate(url, workers, jobs, Path(tmp))
            label = f"PG directives, {workers} worker(s)"
            rate_line(label, ours, "bare SKIP LOCKED queue", bare, ">= 0.5")
            if python and proc_url:
                theirs = procrastinate_rate(python, proc_url, workers, jobs, Path(tmp))
                rate_line(label, ours, "procrastinate", theirs, ">= 3")


# -- latency ----------------------------------------------------------------------------------


def bench_latency(
    db: Database, url: str, registry: PackageRegistry, env: dict[str, str], quick: bool
) -> None:
    """Request-to-handler-start latency with an idle worker (poll interval 30 s)."""
    count = 40 if quick else 300
    clocks = Path(tempfile.mkdtemp(prefix="fp-bench-clock-"))
    cmd = [
        sys.executable,
        "-m",
        "fleetprompt_host",
        "--db",
        db.url,
        "worker",
        "--poll",
        "30",
        "--tenant",
        TENANT,
    ]
    (proc,) = start_ready(cmd, 1, env, clocks, ready_text="serving")
    samples: list[float] = []
    try:
        for i in range(-3, count):  # three warm-up runs
            with db.tenant_session(TENANT) as session:
                req = DirectiveRequest("fpbench.clock", {"dir": str(clocks)}, actor="system:bench")
                directive, _ = request_directive(session, registry, TENANT, req)
                committing = time.time()  # the commit is what ends this block
            mark = clocks / directive.id
            deadline = time.monotonic() + 60
            while not (mark.exists() and mark.read_text()):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the worker did not start the directive")
                time.sleep(0.0002)
            if i >= 0:
                samples.append(float(mark.read_text()) - committing)
            _wait_succeeded(db, directive.id)
    finally:
        proc.terminate()
        proc.wait(30)
    p50, p99 = percentiles(samples)
    b50, b99 = percentiles(bare_notify_latency(url, count))
    for name, ours, base, target in (("p50", p50, b50, "<= 3 ms"), ("p99", p99, b99, "<= 10 ms")):
        print(
            f"{'PG request->handler start latency ' + name:<46} {ours * 1e3:9.2f} ms   "
            f"bare NOTIFY->LISTEN: {base * 1e3:7.2f} ms   ratio {ours / base:6.1f}x   "
            f"(target {target})",
            flush=True,
        )


def _wait_succeeded(db: Database, directive_id: str) -> None:
    while True:
        with db.tenant_session(TENANT, readonly=True) as session:
            if session.get(DirectiveRow, directive_id).status == "succeeded":  # type: ignore[union-attr]
                return
        time.sleep(0.001)


def bench_postgres(registry: PackageRegistry, site: Path, quick: bool) -> None:
    server = bench_server()
    if server is None:
        return
    url = server.create_database("fp_bench_engine")
    env = dict(os.environ, PYTHONPATH=str(site), FLEETPROMPT_PACKAGES="fpbench")
    try:
        db = Database(url)
        _setup_tenant(db)
        bench_pg_signals(db, url, registry, quick)
        bench_latency(db, url, registry, env, quick)
        bench_throughput(db, url, server, registry, env, quick)
        db.close()
    finally:
        server.drop_all()


def main() -> None:
    """Run the engine benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI-sized smoke run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(Path(tmp))
        registry = discover([site], enabled={"fpbench"})
        registry.get("fpbench")
        bench_sqlite(registry, args.quick)
        bench_postgres(registry, site, args.quick)


if __name__ == "__main__":
    main()
