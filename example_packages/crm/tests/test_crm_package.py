"""The crm distribution: a valid manifest that matches its code, seeds and an agent."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from fleetprompt_host.host import Host
from fleetprompt_host.testing.plugin import TenantHarness
from fleetprompt_sdk import PermissionDeniedError

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CRM_TOOLS = [
    "crm__create_contact",
    "crm__get_contact",
    "crm__list_companies",
    "crm__search_contacts",
    "crm__update_contact",
]

pytestmark = pytest.mark.fleetprompt(install=["crm"])


def test_marketplace_validation_with_code_finds_nothing_to_report() -> None:
    # What marketplace CI runs: the manifest against the schema and rules, then the code
    # imported in a subprocess and compared with it (tools, handlers).
    command = [sys.executable, "-m", "fleetprompt_host", "validate", "--with-code", "--strict"]
    done = subprocess.run(
        [*command, "--json", str(PACKAGE_DIR)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert (result["name"], result["valid"], result["problems"]) == ("crm", True, [])


def test_the_host_discovers_the_installed_distribution_at_the_manifest_version(
    fp_host: Host,
) -> None:
    crm = fp_host.registry.get("crm")
    assert crm.distribution == "fleetprompt-crm"
    assert crm.version == crm.distribution_version == version("fleetprompt-crm") == "1.0.0"


def test_install_seeds_the_default_pipeline_stages_as_provisioned_records(
    fp_tenant: TenantHarness,
) -> None:
    stages = fp_tenant.records("pipeline_stages")
    by_position = sorted(stages, key=lambda r: r.data["position"])
    assert [r.key for r in by_position] == ["lead", "qualified", "proposal", "won", "lost"]
    assert [r.key for r in by_position if r.data["closed"]] == ["won", "lost"]
    assert all(r.provisioned for r in stages)
    assert fp_tenant.records("contacts") == fp_tenant.records("companies") == []


def test_install_provisions_the_sales_assistant_with_every_crm_tool(
    fp_tenant: TenantHarness,
) -> None:
    (profile,) = fp_tenant.records("_agents")
    assert (profile.key, profile.provisioned) == ("sales_assistant", True)
    assert fp_tenant.host.tools(fp_tenant.slug, agent="crm/sales_assistant") == CRM_TOOLS


def test_members_get_every_tool_and_outsiders_none(fp_tenant: TenantHarness) -> None:
    member = fp_tenant.as_user("bo", "member")
    assert fp_tenant.tools(member) == CRM_TOOLS
    with pytest.raises(PermissionDeniedError):
        fp_tenant.call_tool("search_contacts", {"query": "ada"}, actor="user:eve")
