"""Upgrading a tenant from helpdesk 1.x rewrites every ticket in the 2.0 shape, once.

helpdesk 1.0 is loaded from ``../../helpdesk_v1`` under another module name and
registered in a registry of its own; a second host on the same database installs it and
opens tickets with its real code. ``fp_host`` (which discovers the installed 2.0) then
upgrades the tenant through a real ``package.upgrade`` directive.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from fleetprompt_host.host import Host
from fleetprompt_host.registry import PackageRegistry, read_manifest_file
from fleetprompt_host.storage.models import RecordRow
from fleetprompt_sdk import ConflictError
from fleetprompt_sdk.models import Record

V1_DIR = Path(__file__).resolve().parents[2] / "helpdesk_v1" / "fleetprompt_helpdesk"
V1_MODULE = "fleetprompt_helpdesk_1_x"
#: (title, 1.x priority, body) of the tickets opened with helpdesk 1.0's create_ticket.
V1_OPENED = [("Server down", 1, ""), ("Slow VPN", 2, "evenings"), ("New laptop", 3, "")]
#: 1.0 has no tool that closes tickets, but its schema allows closed ones (an operator's
#: import, say), so one is written straight into the table.
V1_CLOSED = {"title": "Typo", "body": "", "status": "closed", "priority": 4, "opened_by": "user:al"}

pytestmark = pytest.mark.skipif(not V1_DIR.is_dir(), reason="helpdesk_v1 sources not alongside")


def load_v1() -> ModuleType:
    """Import helpdesk 1.0 from its source directory, beside the installed 2.0."""
    if V1_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(V1_MODULE, V1_DIR / "__init__.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[V1_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[V1_MODULE]


@pytest.fixture
def v1_host(fp_host: Host) -> Iterator[Host]:
    """A host on ``fp_host``'s database that offers helpdesk 1.0 (and nothing else)."""
    registry = PackageRegistry()
    registry.register(load_v1().package, V1_DIR / "fleetprompt.json")
    assert registry.get("helpdesk").version == "1.0.0"
    with Host(fp_host.db.url, registry=registry) as old:
        yield old


def v1_ticket_keys(fp_host: Host, v1_host: Host) -> dict[str, str]:
    """Install helpdesk 1.0 into ``acme``, open the 1.x tickets; return title -> key."""
    fp_host.create_tenant("acme")
    v1_host.install("acme", "helpdesk")
    keys = {}
    for title, priority, body in V1_OPENED:
        arguments = {"title": title, "priority": priority, "body": body}
        outcome = v1_host.call_tool("acme", "helpdesk__create_ticket", arguments, run_inline=True)
        assert outcome.directive is not None and outcome.directive["status"] == "succeeded"
        keys[title] = outcome.directive["result"]["key"]
    (schema,) = [c.schema_ for c in read_manifest_file(V1_DIR / "fleetprompt.json").collections]
    jsonschema.validate(V1_CLOSED, schema)
    with fp_host.db.tenant_session("acme") as session:
        session.add(
            RecordRow(package="helpdesk", collection="tickets", key="t-typo", data=V1_CLOSED)
        )
    keys["Typo"] = "t-typo"
    return keys


@pytest.fixture
def v1_tickets(fp_host: Host, v1_host: Host) -> dict[str, str]:
    """Tenant ``acme`` with helpdesk 1.0's tickets and crm (which 2.0 needs) installed."""
    keys = v1_ticket_keys(fp_host, v1_host)
    fp_host.install("acme", "crm")
    return keys


def tickets(host: Host) -> dict[str, Record]:
    """Return acme's tickets by key."""
    return {r.key: r for r in host.records("acme", "helpdesk", "tickets")}


def upgrade_to_2_0(fp_host: Host) -> Any:
    """Upgrade acme's helpdesk to the installed 2.0 and return the plan's one step."""
    (step,) = fp_host.upgrade("acme", "helpdesk").steps
    assert (step.from_version, step.version, step.status) == ("1.0.0", "2.0.0", "succeeded")
    return step


def test_upgrade_renames_status_to_state_and_labels_priorities(
    fp_host: Host, v1_tickets: dict[str, str]
) -> None:
    upgrade_to_2_0(fp_host)
    by_title = {t.data["title"]: t.data for t in tickets(fp_host).values()}
    assert {title: (t["state"], t["priority"]) for title, t in by_title.items()} == {
        "Server down": ("open", "urgent"),
        "Slow VPN": ("open", "high"),
        "New laptop": ("open", "normal"),
        "Typo": ("closed", "low"),
    }
    assert by_title["Slow VPN"] == {
        "title": "Slow VPN",
        "body": "evenings",
        "state": "open",
        "priority": "high",
        "contact": None,
        "opened_by": "user:owner",
        "closed_reason": None,
    }
    assert set(tickets(fp_host)) == set(v1_tickets.values())


def test_upgraded_tickets_fit_the_2_0_schema_stay_user_records_and_work_with_2_0_tools(
    fp_host: Host, v1_tickets: dict[str, str]
) -> None:
    upgrade_to_2_0(fp_host)
    (collection,) = fp_host.registry.get("helpdesk").manifest.collections
    for ticket in tickets(fp_host).values():
        jsonschema.validate(ticket.data, collection.schema_)
        assert not ticket.provisioned
    urgent = fp_host.call_tool("acme", "helpdesk__list_tickets", {"priority": "urgent"})
    assert [t["key"] for t in urgent.output] == [v1_tickets["Server down"]]
    closed = fp_host.call_tool(
        "acme",
        "helpdesk__bulk_close_tickets",
        {"keys": [v1_tickets["Slow VPN"]], "reason": "fixed"},
        confirm=True,
        run_inline=True,
    )
    assert closed.directive is not None and closed.directive["status"] == "succeeded"
    assert tickets(fp_host)[v1_tickets["Slow VPN"]].data["state"] == "closed"


def test_upgrading_again_is_a_no_op_that_changes_nothing(
    fp_host: Host, v1_tickets: dict[str, str]
) -> None:
    upgrade_to_2_0(fp_host)
    after_first = tickets(fp_host)
    (again,) = fp_host.upgrade("acme", "helpdesk").steps
    assert again.noop is not None and "already installed" in again.noop
    assert tickets(fp_host) == after_first


def test_upgrading_without_crm_is_refused_and_the_1_x_tickets_stay_as_they_were(
    fp_host: Host, v1_host: Host
) -> None:
    v1_ticket_keys(fp_host, v1_host)
    before = tickets(fp_host)
    with pytest.raises(ConflictError, match="crm"):
        fp_host.upgrade("acme", "helpdesk")
    assert tickets(fp_host) == before
    assert all("status" in t.data for t in before.values())
    assert fp_host.directives("acme", "package.upgrade") == []


def test_upgrade_migrates_more_tickets_than_one_batch(fp_host: Host, v1_host: Host) -> None:
    fp_host.create_tenant("acme")
    v1_host.install("acme", "helpdesk")
    fp_host.install("acme", "crm")
    for n in range(105):  # the migration reads 100 at a time
        v1_host.request_directive("acme", "helpdesk.ticket.create", {"title": f"t{n}"})
    v1_host.run_until_idle("acme")
    assert len(tickets(fp_host)) == 105

    upgrade_to_2_0(fp_host)

    migrated = [t.data for t in tickets(fp_host).values()]
    assert len(migrated) == 105
    assert all((t["state"], t["priority"]) == ("open", "normal") for t in migrated)
    assert not any("status" in t for t in migrated)


def test_upgrades_within_2_x_leave_tickets_alone(fp_host: Host) -> None:
    fp_host.create_tenant("acme")
    fp_host.install("acme", "helpdesk", with_deps=True)
    opened = fp_host.call_tool("acme", "helpdesk__create_ticket", {"title": "VPN"}, run_inline=True)
    assert opened.directive is not None and opened.directive["status"] == "succeeded"
    before = tickets(fp_host)
    # The same 2.0 code, offered as 2.1.0: its upgrade hook runs from 2.0.0.
    registry = PackageRegistry()
    crm, helpdesk = fp_host.registry.get("crm"), fp_host.registry.get("helpdesk")
    registry.register(crm.plugin, crm.manifest)
    registry.register(helpdesk.plugin, helpdesk.manifest.model_copy(update={"version": "2.1.0"}))
    with Host(fp_host.db.url, registry=registry) as newer:
        (step,) = newer.upgrade("acme", "helpdesk").steps
    assert (step.from_version, step.version, step.status) == ("2.0.0", "2.1.0", "succeeded")
    assert tickets(fp_host) == before
