"""Storage benchmarks: tenant creation, tenant-scoped round trips, connection memory.

Each figure is printed next to a baseline measured in the same run:
- creating a tenant on PostgreSQL when 0, 1,000 and 5,000 tenants exist (``--quick``:
  0, 40, 100) vs. a bare psycopg script creating the same role, schema, tables and indexes;
- creating a tenant on SQLite vs. bare ``sqlite3`` creating the same file: the first
  creation of a process with no tenant image on disk (the migrations run once), and the
  following ones (a copy of the image);
- one short transaction through ``tenant_session`` vs. the same statement and commit on
  one bare connection with the same settings, on both backends: a single-row INSERT +
  COMMIT, a read-only session running one SELECT, and an empty write session. On
  PostgreSQL both sides run with ``synchronous_commit = off``, so the figure is the
  per-transaction overhead rather than the disk's flush time;
- a tenant-scoped insert + select through ``tenant_session`` cycling over 10 and over N
  tenants vs. the same statements on one bare psycopg connection;
- the server memory of one long-lived connection that served N different tenants
  (``pg_backend_memory_contexts``), unbounded vs. FleetPrompt's recycling bound, and the
  client RSS after N tenant sessions (bounded by the tenant engine cache).

PostgreSQL comes from ``FLEETPROMPT_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); the bench works in a
throwaway database and drops it (and its roles) at the end.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres_server import bench_server
from report import report, timeit
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex, CreateTable

from fleetprompt_host.storage import TENANT_SCHEMA, Database, TenantBase
from fleetprompt_host.storage.models import CounterRow, RecordRow, allocate
from fleetprompt_host.storage.postgres_backend import SCHEMAS_PER_HOST_CONNECTION


def tenant_ddl(dialect: object, schema: str | None) -> list[str]:
    """The CREATE TABLE / CREATE INDEX statements of every tenant table, for the baseline."""
    statements = []
    for table in TenantBase.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))  # type: ignore[arg-type]
        statements += [
            str(CreateIndex(i).compile(dialect=dialect))  # type: ignore[arg-type]
            for i in table.indexes
        ]
    prefix = f"{TENANT_SCHEMA}."
    return [s.replace(prefix, f"{schema}." if schema else "") for s in statements]


def per_call(fn: Callable[[int], object], count: int) -> float:
    """Return the median seconds of ``fn(i)`` for i in range(count)."""
    samples = []
    for i in range(count):
        started = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return samples[len(samples) // 2]


# -- PostgreSQL ---------------------------------------------------------------------------


def bench_postgres(quick: bool) -> None:
    server = bench_server()
    if server is None:
        return
    url = server.create_database("fp_bench")
    try:
        db = Database(url)
        levels = [0, 40, 100] if quick else [0, 1000, 5000]
        samples = 5 if quick else 20
        bench_pg_create(db, url, levels, samples)
        n = levels[-1]
        bench_pg_round_trip(db, url, n, quick)
        bench_pg_transactions(db, url, quick)
        bench_pg_memory(db, url, n)
        db.close()
    finally:
        server.drop_all()


def bench_pg_create(db: Database, url: str, levels: list[int], samples: int) -> None:
    import psycopg

    ddl = tenant_ddl(postgresql.dialect(), "SCHEMA")  # type: ignore[no-untyped-call]
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    bare_conn = psycopg.connect(conninfo, autocommit=False)
    database = make_url(url).database

    def bare(i: int) -> None:
        schema = f"bare_{i}"
        with bare_conn.cursor() as cur:
            cur.execute(f'CREATE ROLE "fp_bench_bare_{i}_{database}" LOGIN')
            cur.execute(f"CREATE SCHEMA {schema}")
            for statement in ddl:
                cur.execute(statement.replace("SCHEMA.", f"{schema}."))
        bare_conn.commit()

    existing = 0
    for level in levels:
        while existing < level:
            db.create_tenant(f"t{existing:05d}")
            existing += 1
        base = existing

        def ours_create(i: int, b: int = base) -> object:
            return db.create_tenant(f"m{b:05d}_{i}")

        def bare_create(i: int, b: int = base) -> None:
            bare(b * 100 + i)

        ours = per_call(ours_create, samples)
        bare_time = per_call(bare_create, samples)
        for i in range(samples):
            db.delete_tenant(f"m{base:05d}_{i}")
            with bare_conn.cursor() as cur:
                cur.execute(f"DROP SCHEMA bare_{base * 100 + i} CASCADE")
                cur.execute(f'DROP ROLE "fp_bench_bare_{base * 100 + i}_{database}"')
            bare_conn.commit()
        report(f"PG create tenant, {level} exist", ours, "bare psycopg DDL", bare_time)
    bare_conn.close()


def _round_trip(db: Database, slug: str, key: str) -> None:
    with db.tenant_session(slug) as session:
        session.add(RecordRow(package="bench", collection="c", key=key, data={"k": key}))
        session.flush()
        session.execute(select(RecordRow.data).where(RecordRow.key == key)).scalar_one()


def bench_pg_round_trip(db: Database, url: str, n: int, quick: bool) -> None:
    import psycopg

    slugs = [t.slug for t in db.list_tenants()][:n]
    repeat = 200 if quick else 2000
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    bare_conn = psycopg.connect(conninfo)
    counter = iter(range(10**9))

    def bare() -> None:
        key = f"b{next(counter)}"
        with bare_conn.cursor() as cur:
            cur.execute("SET search_path TO org_t00000")
            cur.execute(
                "INSERT INTO records (package, collection, key, data, provisioned, revision, "
                "created_at, updated_at) VALUES ('bench', 'c', %s, '{}', false, 1, now(), now())",
                (key,),
            )
            cur.execute("SELECT data FROM records WHERE key = %s", (key,))
            cur.fetchone()
        bare_conn.commit()

    baseline = timeit(bare, repeat=repeat)
    for size in (10, len(slugs)):
        pool = slugs[:size]

        def ours(pool: list[str] = pool) -> None:
            i = next(counter)
            _round_trip(db, pool[i % len(pool)], f"k{i}")

        report(
            f"PG insert+select, cycling {size} tenants",
            timeit(ours, repeat=repeat),
            "bare psycopg, one connection",
            baseline,
        )
    bare_conn.close()


def bench_pg_transactions(db: Database, url: str, quick: bool) -> None:
    import psycopg

    db.create_tenant("txbench")
    with db.backend.host_transaction() as conn:
        role = conn.exec_driver_sql(
            "SELECT db_role FROM fleetprompt.tenants WHERE slug = 'txbench'"
        ).scalar_one()
        conn.exec_driver_sql(f'ALTER ROLE "{role}" SET synchronous_commit = off')
    db.forget_tenant_engine("txbench")
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    bare_conn = psycopg.connect(conninfo)
    bare_conn.execute("SET synchronous_commit = off")
    bare_conn.execute("SET search_path TO org_txbench")
    bare_conn.commit()
    counter = iter(range(10**9))

    def bare_insert() -> None:
        bare_conn.execute(BARE_INSERT, (f"b{next(counter)}",))
        bare_conn.commit()

    def bare_select() -> None:
        bare_conn.execute(BARE_SELECT).fetchone()
        bare_conn.commit()

    repeat = 200 if quick else 2000
    transaction_figures("PG", db, "txbench", bare_insert, bare_select, None, repeat)
    bare_conn.close()


def _backend_bytes(conn: object) -> int:
    return int(
        conn.exec_driver_sql(  # type: ignore[attr-defined]
            "SELECT sum(total_bytes) FROM pg_backend_memory_contexts"
        ).scalar()
    )


def bench_pg_memory(db: Database, url: str, n: int) -> None:
    slugs = [t.slug for t in db.list_tenants()][:n]
    engine = create_engine(url, pool_size=1)
    with engine.connect() as conn:
        fresh = _backend_bytes(conn)
        conn.commit()
        # The design FleetPrompt rejected: one shared connection switching roles.
        for slug in slugs:
            with db.host_session() as session:
                role = session.execute(
                    text("SELECT db_role FROM fleetprompt.tenants WHERE slug = :s"), {"s": slug}
                ).scalar_one()
            conn.exec_driver_sql(f'SET ROLE "{role}"')
            conn.exec_driver_sql(f"SET search_path TO org_{slug}")
            conn.exec_driver_sql("SELECT count(*) FROM records").scalar()
            conn.exec_driver_sql("SELECT count(*) FROM signals").scalar()
            conn.exec_driver_sql("RESET ROLE")
            conn.commit()
        shared = _backend_bytes(conn)
    engine.dispose()
    report_kb(f"PG memory, 1 shared conn, {len(slugs)} tenants", shared, "fresh connection", fresh)
    # FleetPrompt's host connections: replaced after SCHEMAS_PER_HOST_CONNECTION schemas.
    bound = min(len(slugs), SCHEMAS_PER_HOST_CONNECTION)
    engine = create_engine(url, pool_size=1)
    with engine.connect() as conn:
        for slug in slugs[:bound]:
            conn.exec_driver_sql(f"SELECT count(*) FROM org_{slug}.records").scalar()
            conn.exec_driver_sql(f"SELECT count(*) FROM org_{slug}.signals").scalar()
        bounded = _backend_bytes(conn)
    engine.dispose()
    report_kb(
        f"PG memory, host conn bound ({SCHEMAS_PER_HOST_CONNECTION} schemas)",
        bounded,
        "fresh connection",
        fresh,
    )
    rss_before = _rss_kb()
    for i, slug in enumerate(slugs):
        _round_trip(db, slug, f"rss{i}")
    rss_after = _rss_kb()
    print(
        f"client RSS growth over {len(slugs)} tenant sessions: {rss_after - rss_before} kB "
        f"(tenant engine cache holds {len(db._handles)} engines)",
        flush=True,
    )


def report_kb(name: str, value: int, baseline_name: str, baseline: int) -> None:
    """Print a memory figure (bytes) next to its baseline, in kB, with the ratio."""
    print(
        f"{name:<44} {value / 1024:10.0f} kB   {baseline_name}: {baseline / 1024:10.0f} kB   "
        f"ratio {value / baseline:6.2f}x",
        flush=True,
    )


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- SQLite ---------------------------------------------------------------------------------


def bench_sqlite(quick: bool) -> None:
    import sqlite3

    from fleetprompt_host.storage import sqlite_template

    samples = 5 if quick else 30
    ddl = tenant_ddl(sqlite.dialect(), None)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/fleetprompt.sqlite")

        def bare(i: int) -> None:
            conn = sqlite3.connect(f"{tmp}/bare_{i}.sqlite", isolation_level=None)
            conn.execute("BEGIN")
            for statement in ddl:
                conn.execute(statement)
            conn.execute("COMMIT")
            conn.close()

        bare_create = per_call(bare, samples)
        # As in a new process with no image on disk yet: the migrations run once.
        sqlite_template._images.clear()
        started = time.perf_counter()
        db.create_tenant("s0000")
        first = time.perf_counter() - started
        report("SQLite create tenant, first (builds image)", first, "bare sqlite3 DDL", bare_create)
        ours = per_call(lambda i: db.create_tenant(f"s{i + 1:04d}"), samples)
        report("SQLite create tenant", ours, "bare sqlite3 DDL", bare_create)
        counter = iter(range(10**9))
        repeat = 300 if quick else 3000

        def round_trip() -> None:
            i = next(counter)
            _round_trip(db, "s0000", f"k{i}")

        bare_conn = sqlite3.connect(f"{tmp}/bare_0.sqlite", isolation_level=None)
        # The same settings as FleetPrompt's tenant connections.
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000"):
            bare_conn.execute(f"PRAGMA {pragma}")

        def bare_round_trip() -> None:
            key = f"b{next(counter)}"
            bare_conn.execute("BEGIN IMMEDIATE")
            bare_conn.execute(BARE_INSERT.replace("%s", "?"), (key,))
            bare_conn.execute("SELECT data FROM records WHERE key = ?", (key,)).fetchone()
            bare_conn.execute("COMMIT")

        report(
            "SQLite insert+select, one tenant",
            timeit(round_trip, repeat=repeat),
            "bare sqlite3",
            timeit(bare_round_trip, repeat=repeat),
        )

        def bare_insert() -> None:
            bare_conn.execute("BEGIN IMMEDIATE")
            bare_conn.execute(BARE_INSERT.replace("%s", "?"), (f"b{next(counter)}",))
            bare_conn.execute("COMMIT")

        def bare_select() -> None:
            bare_conn.execute("BEGIN DEFERRED")
            bare_conn.execute(BARE_SELECT).fetchone()
            bare_conn.execute("COMMIT")

        def bare_empty() -> None:
            bare_conn.execute("BEGIN IMMEDIATE")
            bare_conn.execute("COMMIT")

        transaction_figures("SQLite", db, "s0000", bare_insert, bare_select, bare_empty, repeat)
        bare_conn.close()
        with db.tenant_session("s0000") as session:
            allocate(session, "bench")
            session.get(CounterRow, "bench")
        db.close()


BARE_INSERT = (
    "INSERT INTO records (package, collection, key, data, provisioned, revision, "
    "created_at, updated_at) VALUES ('bench', 'c', %s, '{}', false, 1, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)
BARE_SELECT = "SELECT count(*) FROM records WHERE collection = 'none'"
#: Record keys unique across every figure of a run.
_KEYS = itertools.count()


def transaction_figures(
    label: str,
    db: Database,
    slug: str,
    bare_insert: Callable[[], None],
    bare_select: Callable[[], None],
    bare_empty: Callable[[], None] | None,
    repeat: int,
) -> None:
    """Report one-transaction figures through ``tenant_session`` next to bare ones.

    The statements are built once, as hot paths do, so the figures are the session's
    cost (checkout, BEGIN, COMMIT, checks) plus one execution. Without ``bare_empty``
    (PostgreSQL, where an empty transaction sends nothing) the empty session is skipped.
    """
    insert_stmt = insert(RecordRow)
    select_stmt = select(func.count()).select_from(RecordRow).where(RecordRow.collection == "x")

    def ours_insert() -> None:
        with db.tenant_session(slug) as session:
            session.connection().execute(
                insert_stmt,
                {"package": "bench", "collection": "t", "key": f"t{next(_KEYS)}", "data": {}},
            )

    def ours_select() -> None:
        with db.tenant_session(slug, readonly=True) as session:
            session.connection().execute(select_stmt).scalar()

    def ours_empty() -> None:
        with db.tenant_session(slug):
            pass

    fns = {
        "insert": ours_insert,
        "bare insert": bare_insert,
        "select": ours_select,
        "bare select": bare_select,
    }
    if bare_empty is not None:
        fns.update({"empty": ours_empty, "bare empty": bare_empty})
    took = _interleaved(fns, repeat)
    report(
        f"{label} tenant_session INSERT+COMMIT",
        took["insert"],
        "bare INSERT+COMMIT",
        took["bare insert"],
        unit="us",
    )
    report(
        f"{label} read-only session, one SELECT",
        took["select"],
        "bare BEGIN+SELECT+COMMIT",
        took["bare select"],
        unit="us",
    )
    if bare_empty is not None:
        report(
            f"{label} empty write session",
            took["empty"],
            "bare BEGIN+COMMIT",
            took["bare empty"],
            unit="us",
        )


def _interleaved(fns: dict[str, Callable[[], None]], repeat: int) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved so drift hits all."""
    for fn in fns.values():
        for _ in range(20):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    """Run the storage benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI-sized smoke run")
    args = parser.parse_args()
    bench_sqlite(args.quick)
    bench_postgres(args.quick)


if __name__ == "__main__":
    main()
