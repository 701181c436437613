"""``fleetprompt worker``: run directives and signal deliveries until stopped."""

from __future__ import annotations

import logging
import sys

import click

from fleetprompt_host.cli.db_cmd import emit_json, open_database


def _tenant_list(values: tuple[str, ...]) -> tuple[str, ...] | None:
    slugs = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return tuple(dict.fromkeys(slugs)) or None


@click.command("worker")
@click.option(
    "--tenant",
    "tenants",
    multiple=True,
    metavar="SLUG[,SLUG...]",
    help="Serve only these tenants (repeatable; default: every tenant).",
)
@click.option(
    "--concurrency", default=1, show_default=True, type=click.IntRange(1, 256),
    help="Worker threads, each with its own database connections.",
)  # fmt: skip
@click.option("--until-idle", is_flag=True, help="Exit once nothing is due (scripts, tests).")
@click.option(
    "--lease", "lease_seconds", default=30.0, show_default=True, type=click.FloatRange(0.1),
    help="Seconds a claim lasts without renewal; held claims are renewed every third of it.",
)  # fmt: skip
@click.option(
    "--batch", "batch_size", default=10, show_default=True, type=click.IntRange(1, 1000),
    help="Items claimed per turn at one tenant (the fairness cap).",
)  # fmt: skip
@click.option(
    "--max-batch", default=100, show_default=True, type=click.IntRange(1, 10000),
    help="Largest batch of a tenant whose turns finish within 0.5 s (short work).",
)  # fmt: skip
@click.option(
    "--group-window", "group_seconds", default=0.05, show_default=True,
    type=click.FloatRange(0),
    help="Seconds one transaction keeps taking claimed directives (group commit); 0: one "
    "transaction per directive.",
)  # fmt: skip
@click.option(
    "--poll", "poll_seconds", default=None, type=click.FloatRange(0.01),
    help="Safety-net poll interval in seconds (default 0.2 on SQLite, 5 on PostgreSQL).",
)  # fmt: skip
@click.option(
    "--idle-horizon", default=60.0, show_default=True, type=click.FloatRange(0),
    help="With --until-idle: keep waiting for work due within this many seconds.",
)  # fmt: skip
@click.option(
    "--shutdown-grace", default=30.0, show_default=True, type=click.FloatRange(0),
    help="On SIGTERM/SIGINT, wait this long for running work before releasing it.",
)  # fmt: skip
@click.option(
    "--reconcile", is_flag=True,
    help="First rebuild the work index from the tenants' tables (scans every tenant).",
)  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="Log each stop, release and problem.")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@click.pass_context
def worker(
    ctx: click.Context,
    tenants: tuple[str, ...],
    concurrency: int,
    until_idle: bool,
    lease_seconds: float,
    batch_size: int,
    max_batch: int,
    group_seconds: float,
    poll_seconds: float | None,
    idle_horizon: float,
    shutdown_grace: float,
    reconcile: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run directives and signal deliveries for one tenant, a list, or all tenants.

    Stops on SIGTERM or SIGINT after the work in hand (see --shutdown-grace). Any number of
    workers may share a PostgreSQL database; see docs/workers.md.
    """
    from fleetprompt_host.engine import scheduler
    from fleetprompt_host.engine.worker import Worker, WorkerOptions

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    selected = _tenant_list(tenants)
    database = open_database(ctx)
    try:
        for slug in selected or ():
            database.get_tenant(slug)
        if reconcile:
            found = scheduler.reconcile(database, selected)
            click.echo(f"work index rebuilt: {found} tenant(s) with pending work", err=True)
        url = database.url
    finally:
        database.close()
    options = WorkerOptions(
        tenants=selected,
        concurrency=concurrency,
        until_idle=until_idle,
        lease_seconds=lease_seconds,
        batch_size=batch_size,
        max_batch=max(max_batch, batch_size),
        group_seconds=group_seconds,
        poll_seconds=poll_seconds,
        idle_horizon_seconds=idle_horizon,
        shutdown_grace_seconds=shutdown_grace,
    )
    runner = Worker(url, options)
    scope = ", ".join(selected) if selected else "every tenant"

    def ready() -> None:
        # Printed once the worker picks up new work at once: scripts may wait for it.
        click.echo(
            f"worker {runner.name} serving {scope} on {runner.masked_url} "
            f"(concurrency {concurrency})",
            err=True,
        )

    stats = runner.run(on_ready=ready)
    outcomes = {f"{kind}.{outcome}": n for (kind, outcome), n in sorted(stats.outcomes.items())}
    if as_json:
        emit_json(
            {
                "ran": stats.total(),
                "outcomes": outcomes,
                "released": stats.released,
                "idle_exit": stats.idle_exit,
            }
        )
        return
    parts = ", ".join(f"{key} {value}" for key, value in outcomes.items())
    click.echo(f"worker stopped: ran {stats.total()}" + (f" ({parts})" if parts else ""))
