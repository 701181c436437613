"""Installations benchmark: three example packages into N tenants on PostgreSQL.

Runs the ``--all-tenants`` path (:func:`fleetprompt_host.installations.rollout.rollout`,
what ``fleetprompt install PKG --all-tenants --wait`` calls) for crm, forums and helpdesk
(with a secret) over N tenants (1,000; ``--quick``: 20), and prints:

- milliseconds per (tenant, package) install, each package and overall, next to a bare
  per-tenant insert measured in the same run (psycopg, ``INSERT`` + ``SELECT`` + ``COMMIT``
  into the tenant's ``records`` table, cycling over the same tenants' schemas, the storage
  bench's baseline); target: at most 30 ms;
- flatness: the median install time of the last tenth of the tenants against the first
  tenth (target: about 1x).

PostgreSQL comes from ``FLEETPROMPT_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); the bench works in a
throwaway database and drops it (and its roles) at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres_server import bench_server
from report import report
from sqlalchemy.engine import make_url

from fleetprompt_host.storage import Database

PACKAGES = (("crm", ()), ("forums", ()), ("helpdesk", ("webhook_token=bench-token-0123456789",)))
ACTOR = "system:bench"


def create_tenants(db: Database, count: int) -> list[str]:
    """Create ``count`` tenants and return their slugs."""
    slugs = [f"t{i:05d}" for i in range(count)]
    for slug in slugs:
        db.create_tenant(slug, actor=ACTOR)
    return slugs


def install_everywhere(db: Database, package: str, sets: tuple[str, ...]) -> list[float]:
    """Install ``package`` in every tenant through the rollout; return seconds per tenant."""
    import fleetprompt_host.installations  # noqa: F401 - registers the directive types
    from fleetprompt_host.discovery import discover
    from fleetprompt_host.installations.planner import ConfigInput
    from fleetprompt_host.installations.rollout import rollout

    registry = discover(enabled=None)
    config = ConfigInput(sets=sets)
    times: list[float] = []
    last = time.perf_counter()

    def on_tenant(outcome: object) -> None:
        nonlocal last
        now = time.perf_counter()
        times.append(now - last)
        last = now

    def on_start(count: int) -> None:
        nonlocal last
        last = time.perf_counter()

    report_ = rollout(
        db,
        registry,
        lambda p: p.install(package, config),
        actor=ACTOR,
        wait=True,
        needs_key=True,
        on_start=on_start,
        on_tenant=on_tenant,
    )
    failed = report_.failed
    if failed:
        raise SystemExit(f"{package}: {len(failed)} tenants failed, first: {failed[0].error}")
    return times


def bare_insert(url: str, slugs: list[str], repeat: int) -> float:
    """Median seconds of a bare per-tenant INSERT + SELECT + COMMIT, cycling the tenants."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    samples: list[float] = []
    with psycopg.connect(conninfo) as conn:
        for i in range(repeat):
            schema = f"org_{slugs[i % len(slugs)]}"
            started = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute(f"SET search_path TO {schema}")
                cur.execute(
                    "INSERT INTO records (package, collection, key, data, provisioned, "
                    "revision, created_at, updated_at) "
                    "VALUES ('bench', 'c', %s, '{}', false, 1, now(), now())",
                    (f"b{i}",),
                )
                cur.execute("SELECT data FROM records WHERE key = %s", (f"b{i}",))
                cur.fetchone()
            conn.commit()
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def tenth(times: list[float], last: bool) -> float:
    """The median of the first (or last) tenth of ``times``."""
    size = max(1, len(times) // 10)
    part = times[-size:] if last else times[:size]
    return statistics.median(part)


def main(argv: list[str]) -> int:
    """Run the benchmark (see module doc)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 tenants instead of 1,000")
    parser.add_argument("--tenants", type=int, default=None, help="number of tenants")
    args = parser.parse_args(argv)
    count = args.tenants or (20 if args.quick else 1000)
    server = bench_server("the benchmark")
    if server is None:
        return 0
    home = tempfile.mkdtemp(prefix="fp-install-bench-")
    os.environ["FLEETPROMPT_HOME"] = home
    os.environ.pop("FLEETPROMPT_SECRET_KEY", None)
    url = server.create_database("fp_bench_install")
    try:
        with Database(url) as db:
            started = time.perf_counter()
            slugs = create_tenants(db, count)
            print(f"created {count} tenants in {time.perf_counter() - started:.1f}s", flush=True)
            baseline = bare_insert(url, slugs, repeat=max(200, count))
            everything: list[float] = []
            for package, sets in PACKAGES:
                times = install_everywhere(db, package, sets)
                everything += times
                report(
                    f"install {package}, per tenant ({count})",
                    statistics.mean(times),
                    "bare tenant insert",
                    baseline,
                    target="<= 30 ms per install",
                )
                report(
                    f"  {package}: last tenth vs first tenth",
                    tenth(times, last=True),
                    "first tenth",
                    tenth(times, last=False),
                    target="flat, ~1x",
                )
            report(
                f"install, per (tenant, package) ({3 * count})",
                statistics.mean(everything),
                "bare tenant insert",
                baseline,
                target="<= 30 ms",
            )
    finally:
        server.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
