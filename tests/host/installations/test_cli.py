"""The lifecycle commands as a user runs them: output, exit codes, --all-tenants."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetprompt_host.storage import Database
from fleetprompt_host.testing.cli import Cli


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], db_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """``fleetprompt --db URL ...`` acting as alice, with tenant ``acme`` owned by her."""
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "user:alice")
    runner = Cli(capsys, db_url)
    assert runner("tenants", "create", "acme").code == 0
    return runner


AS_ALICE = ("--tenant", "acme", "--actor", "user:alice")


def test_dry_run_prints_the_plan_and_changes_nothing(cli: Cli) -> None:
    plan = cli("install", "helpdesk", *AS_ALICE, "--with-deps", "--dry-run", "--json")

    assert plan.code == 0, plan.err
    data = plan.json()
    assert data["dry_run"] is True
    assert data["dependencies"] == ["crm"]
    assert [(s["type"], s["package"]) for s in data["steps"]] == [
        ("package.install", "crm"),
        ("package.install", "helpdesk"),
    ]
    assert "pipeline_stages/lead" in data["steps"][0]["records_create"]
    text = cli("install", "helpdesk", *AS_ALICE, "--with-deps", "--dry-run")
    assert "plan (dry run, nothing changed)" in text.out
    assert "1. package.install crm 1.0.0 (dependency of helpdesk)" in text.out
    assert cli("installations", "list", "--tenant", "acme", "--json").json() == []


def test_install_with_config_file_and_set_then_list_and_show(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "helpdesk.toml"
    config.write_text('webhook_url = "https://hooks.example.com/a"\nwebhook_token = "tok-1"\n')

    done = cli(
        "install", "helpdesk", *AS_ALICE, "--with-deps", "--wait",
        "--config", str(config), "--set", "webhook_url=https://hooks.example.com/b",
    )  # fmt: skip

    assert done.code == 0, done.err
    assert "package.install helpdesk 2.0.0: succeeded" in done.out
    listed = {i["package"]: i for i in cli("installations", "list", *AS_ALICE[:2], "--json").json()}
    assert listed["helpdesk"]["config"] == {"webhook_url": "https://hooks.example.com/b"}
    assert listed["helpdesk"]["secret_fields"] == ["webhook_token"]
    text = cli("installations", "list", "--tenant", "acme").out
    assert "helpdesk  2.0.0      installed" in text
    shown = cli("installations", "show", "crm", "--tenant", "acme").out
    assert "records pipeline_stages: 5 provisioned, 0 by users" in shown
    assert "agent profiles: sales_assistant" in shown
    assert "tok-1" not in done.out + text + shown


def test_without_wait_the_directive_is_left_for_a_worker(cli: Cli) -> None:
    requested = cli("install", "forums", *AS_ALICE)

    assert requested.code == 0
    assert "requested (directive" in requested.out
    assert "fleetprompt worker" in requested.out
    assert cli("installations", "list", "--tenant", "acme", "--json").json()[0]["status"] == (
        "requested"
    )
    ran = cli("worker", "--tenant", "acme", "--until-idle", "--idle-horizon", "0")
    assert ran.code == 0, ran.err
    assert cli("installations", "list", "--tenant", "acme", "--json").json()[0]["status"] == (
        "installed"
    )


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("install", "nosuchpkg"), 3, "no package named 'nosuchpkg'"),
        (("install", "helpdesk"), 4, "[missing-dependency]"),
        (("install", "helpdesk", "--set", "webhook_url=ftp://x"), 2, "config.webhook_url"),
        (("uninstall", "crm"), 3, "[not-installed]"),
        (("install", "crm", "--actor", "user:bob"), 5, "[role-required]"),
    ],
)
def test_errors_are_one_line_with_a_code_and_exit_status(
    cli: Cli, args: tuple[str, ...], code: int, fragment: str
) -> None:
    result = cli(*args, "--tenant", "acme")

    assert result.code == code
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert fragment in result.err
    assert "Traceback" not in result.err


def test_lifecycle_commands_round_trip(cli: Cli) -> None:
    assert cli("install", "helpdesk", *AS_ALICE, "--with-deps", "--wait").code == 0
    assert cli("disable", "helpdesk", *AS_ALICE, "--wait").code == 0
    assert "disabled" in cli("installations", "list", "--tenant", "acme").out
    assert cli("enable", "helpdesk", *AS_ALICE, "--wait").code == 0
    refused = cli("uninstall", "crm", *AS_ALICE, "--wait")
    assert refused.code == 4 and "needed by helpdesk" in refused.err
    gone = cli("uninstall", "crm", *AS_ALICE, "--cascade", "--purge", "--wait")
    assert gone.code == 0, gone.err
    statuses = {
        i["package"]: i["status"]
        for i in cli("installations", "list", "--tenant", "acme", "--all", "--json").json()
    }
    assert statuses == {"crm": "uninstalled", "helpdesk": "uninstalled"}
    audit = cli("audit", "--tenant", "acme", "--subject", "package:crm")
    assert audit.code == 0
    for event in ("install.requested", "install.completed", "uninstall.completed"):
        assert f"package.{event}" in audit.out


def test_all_tenants_reports_failures_without_stopping_and_resumes(cli: Cli, db: Database) -> None:
    for slug in ("beta", "gamma"):
        assert cli("tenants", "create", slug).code == 0
    # bob owns delta; alice is not a member there, so her install must fail in delta only.
    assert cli("tenants", "create", "delta", actor="user:bob").code == 0

    first = cli("install", "forums", "--all-tenants", "--actor", "user:alice", "--wait")

    assert first.code == 1
    assert "tenants: 3 done, 1 failed" in first.out
    assert "error: tenant 'delta':" in first.err and "[role-required]" in first.err
    assert "tenants" in first.err  # the progress bar

    assert cli("members", "add", "alice", "--role", "admin", "--tenant", "delta",
               actor="user:bob").code == 0  # fmt: skip
    again = cli("install", "forums", "--all-tenants", "--actor", "user:alice", "--wait", "--json")

    assert again.code == 0
    outcomes = {t["tenant"]: t["outcome"] for t in again.json()["tenants"]}
    assert outcomes == {"acme": "skipped", "beta": "skipped", "delta": "done", "gamma": "skipped"}


def test_upgrade_everywhere_passes_over_tenants_without_the_package(cli: Cli) -> None:
    assert cli("tenants", "create", "beta").code == 0
    assert cli("install", "forums", *AS_ALICE, "--wait").code == 0

    result = cli("upgrade", "forums", "--all-tenants", "--wait")

    assert result.code == 0, result.err
    assert "tenants: 1 skipped, 1 not-installed, 0 failed" in result.out
