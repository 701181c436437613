"""The helpdesk distribution: valid, in step with its code, with a safe secret and deps."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from fleetprompt_host.discovery import discover
from fleetprompt_host.host import Host
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_sdk import ConfigError, ConflictError

HERE = Path(__file__).resolve().parents[1]
V1_DIR = HERE.parent / "helpdesk_v1"


def test_marketplace_validation_with_code_finds_nothing_to_report() -> None:
    # The 1.x line is checked too (when alongside): the upgrade tests load its code.
    directories = [HERE, V1_DIR] if V1_DIR.is_dir() else [HERE]
    command = [sys.executable, "-m", "fleetprompt_host", "validate", "--with-code", "--strict"]
    done = subprocess.run(
        [*command, "--json", *map(str, directories)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)["results"]
    found = [(r["name"], r["version"], r["problems"]) for r in results]
    assert found == [("helpdesk", "2.0.0", []), ("helpdesk", "1.0.0", [])][: len(directories)]


@pytest.fixture(scope="module")
def registry() -> PackageRegistry:
    """The packages installed in this environment, as the host discovers them."""
    return discover(enabled=None)


def test_the_host_discovers_the_installed_distribution_at_the_manifest_version(
    registry: PackageRegistry,
) -> None:
    helpdesk = registry.get("helpdesk")
    assert helpdesk.distribution == "fleetprompt-helpdesk"
    assert helpdesk.version == helpdesk.distribution_version == version("fleetprompt-helpdesk")
    assert helpdesk.version == "2.0.0"


def test_webhook_token_is_the_only_secret_and_has_no_default(registry: PackageRegistry) -> None:
    manifest = registry.get("helpdesk").manifest
    assert manifest.secret_fields() == ["webhook_token"]
    assert "default" not in manifest.config.schema_["properties"]["webhook_token"]


def test_bulk_close_is_the_one_tool_that_needs_confirmation_and_its_directive_an_admin(
    registry: PackageRegistry,
) -> None:
    manifest = registry.get("helpdesk").manifest
    assert [t.name for t in manifest.tools if t.requires_confirmation] == ["bulk_close_tickets"]
    roles = {d.type: d.required_role.value for d in manifest.directives}
    assert roles == {"helpdesk.ticket.create": "member", "helpdesk.tickets.bulk_close": "admin"}


def test_installing_with_deps_installs_crm_first(fp_host: Host) -> None:
    fp_host.create_tenant("acme")
    plan = fp_host.install("acme", "helpdesk", with_deps=True)
    assert [(s.package, s.status) for s in plan.steps] == [
        ("crm", "succeeded"),
        ("helpdesk", "succeeded"),
    ]
    tools = fp_host.tools("acme")
    assert "crm__create_contact" in tools and "helpdesk__bulk_close_tickets" in tools


def test_installing_without_crm_is_refused_and_installs_nothing(fp_host: Host) -> None:
    fp_host.create_tenant("acme")
    with pytest.raises(ConflictError, match="crm"):
        fp_host.install("acme", "helpdesk")
    assert fp_host.tools("acme") == []
    assert fp_host.directives("acme") == []


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"webhook_url": "ftp://files.example/hook"}, "config.webhook_url"),
        ({"webhook_tokn": "t0k3n-typo"}, "config.webhook_tokn"),
        ({"webhook_token": ""}, "config.webhook_token"),
    ],
)
def test_invalid_config_is_refused_with_its_path_and_installs_nothing(
    fp_host: Host, config: dict[str, str], where: str
) -> None:
    fp_host.create_tenant("acme")
    with pytest.raises(ConfigError, match=where) as err:
        fp_host.install("acme", "helpdesk", config, with_deps=True)
    assert err.value.code == "config-invalid"
    assert fp_host.tools("acme") == []
    assert fp_host.directives("acme") == []
