"""``fleetprompt secrets``: the host key that encrypts secret config values."""

from __future__ import annotations

import sys
from typing import Any

import click

from fleetprompt_host.cli.db_cmd import emit_json, open_database


@click.group("secrets")
def secrets() -> None:
    """Inspect and rotate the host key that encrypts secret config values."""


@secrets.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show where the key comes from, its id, and which keys the tenants' secrets use."""
    from fleetprompt_host.installations.secret_store import key_usage
    from fleetprompt_host.installations.secrets import load_keyring

    keyring = load_keyring()
    database = open_database(ctx)
    usage: dict[str, dict[str, int]] = {}
    try:
        for tenant in database.list_tenants():
            with database.tenant_session(tenant.slug, readonly=True) as session:
                found = key_usage(session)
            if found:
                usage[tenant.slug] = found
    finally:
        database.close()
    data = {"source": keyring.source, "primary_key_id": keyring.primary_id,
            "key_ids": keyring.ids, "tenants": usage}  # fmt: skip
    if as_json:
        emit_json(data)
        return
    click.echo(f"key source: {keyring.source}")
    click.echo(f"primary key: {keyring.primary_id}")
    for kid in keyring.ids[1:]:
        click.echo(f"older key:   {kid} (decrypts only)")
    totals: dict[str, int] = {}
    for counts in usage.values():
        for kid, count in counts.items():
            totals[kid] = totals.get(kid, 0) + count
    for kid, count in sorted(totals.items()):
        click.echo(f"secrets under {kid}: {count}")
    stale = sum(n for k, n in totals.items() if k != keyring.primary_id)
    if stale:
        click.echo(f"{stale} secrets use an older key: run `fleetprompt secrets rotate-key`")


@secrets.command("rotate-key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def rotate_key(ctx: click.Context, as_json: bool) -> None:
    """Re-encrypt every tenant's secrets with a new key, then retire the old one."""
    from fleetprompt_host.installations.rotation import rotate_key as rotate

    database = open_database(ctx)
    bar: Any = None

    def on_start(count: int) -> None:
        nonlocal bar
        if count and not as_json:
            bar = click.progressbar(length=count, label="re-encrypting", file=sys.stderr)
            bar.__enter__()

    def on_tenant(result: Any) -> None:
        if bar is not None:
            bar.update(1, result.slug)

    try:
        report = rotate(database, on_start=on_start, on_tenant=on_tenant)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        database.close()
    if as_json:
        emit_json(
            {
                "source": report.source,
                "primary_key_id": report.primary_id,
                "generated": report.generated,
                "reencrypted": sum(t.reencrypted for t in report.tenants),
                "retired": report.retired,
                "still_used": report.still_used,
                "failed": {t.slug: t.error for t in report.failed},
            }
        )
    else:
        made = "new key" if report.generated else "key"
        click.echo(f"{made} {report.primary_id} ({report.source})")
        click.echo(f"re-encrypted {sum(t.reencrypted for t in report.tenants)} secrets")
        for failure in report.failed:
            click.echo(f"error: tenant {failure.slug!r}: {failure.error}", err=True)
        if report.retired and report.source == "FLEETPROMPT_SECRET_KEY":
            click.echo(f"no secret uses {', '.join(report.retired)} any more: remove it "
                       "from FLEETPROMPT_SECRET_KEY")  # fmt: skip
        elif report.retired:
            click.echo(f"retired {', '.join(report.retired)}")
        if report.failed:
            click.echo("run the command again to finish the rotation", err=True)
    if not report.complete:
        ctx.exit(1)


@secrets.command("generate-key")
def generate_key() -> None:
    """Print a new key (for FLEETPROMPT_SECRET_KEY; see docs/secrets.md)."""
    from fleetprompt_host.installations.secrets import generate_key as make

    click.echo(make())
