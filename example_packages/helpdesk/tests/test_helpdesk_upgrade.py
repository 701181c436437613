"""Upgrading from helpdesk 1.x rewrites every ticket in the 2.0 shape, exactly once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fleetprompt_sdk.models import Record


def v1_ticket(title: str, status: str, priority: int, **extra: Any) -> dict[str, Any]:
    """Return ticket data as helpdesk 1.0.0 writes it."""
    return {
        "title": title,
        "body": "",
        "status": status,
        "priority": priority,
        "opened_by": None,
        **extra,
    }


V1_TICKETS = {
    "t1": v1_ticket("Server down", "open", 1, opened_by="user:bo"),
    "t2": v1_ticket("Slow VPN", "open", 2, body="evenings"),
    "t3": v1_ticket("Typo", "closed", 4, opened_by="user:al"),
    "t4": v1_ticket("New laptop", "open", 3),
}
V1_MANIFEST = (
    Path(__file__)
    .resolve()
    .parents[2]
    .joinpath("helpdesk_v1", "fleetprompt_helpdesk", "fleetprompt.json")
)


@pytest.fixture
def v1_tenant(make_tenant: Any) -> Any:
    """A tenant holding the tickets helpdesk 1.0.0 left behind."""
    tenant = make_tenant(install=False)
    for key, data in V1_TICKETS.items():
        tenant.records[("tickets", key)] = Record(
            collection="tickets", key=key, data=data, package="helpdesk"
        )
    return tenant


def test_upgrade_renames_status_to_state_and_labels_priorities(v1_tenant: Any) -> None:
    v1_tenant.upgrade("1.0.0", "2.0.0")
    tickets = v1_tenant.data("tickets")
    assert {k: (t["state"], t["priority"]) for k, t in tickets.items()} == {
        "t1": ("open", "urgent"),
        "t2": ("open", "high"),
        "t3": ("closed", "low"),
        "t4": ("open", "normal"),
    }
    assert tickets["t2"] == {
        "title": "Slow VPN",
        "body": "evenings",
        "state": "open",
        "priority": "high",
        "contact": None,
        "opened_by": None,
        "closed_reason": None,
    }


def test_upgraded_tickets_satisfy_the_2_0_schema_and_stay_user_records(
    v1_tenant: Any, manifest: dict[str, Any]
) -> None:
    v1_tenant.upgrade("1.0.0", "2.0.0")
    (collection,) = manifest["collections"]
    for data in v1_tenant.data("tickets").values():
        jsonschema.validate(data, collection["schema"])
    assert not any(r.provisioned for r in v1_tenant.records.values())


def test_upgrading_again_changes_nothing(v1_tenant: Any) -> None:
    v1_tenant.upgrade("1.0.0", "2.0.0")
    after_first = dict(v1_tenant.records)
    v1_tenant.upgrade("1.0.0", "2.0.0")
    assert v1_tenant.records == after_first


def test_upgrades_within_2_x_leave_tickets_alone(v1_tenant: Any) -> None:
    before = dict(v1_tenant.records)
    v1_tenant.upgrade("2.0.0", "2.1.0")
    assert v1_tenant.records == before


def test_upgrade_migrates_more_tickets_than_one_batch(make_tenant: Any) -> None:
    tenant = make_tenant(install=False)
    for n in range(250):
        tenant.records[("tickets", f"k{n}")] = Record(
            collection="tickets",
            key=f"k{n}",
            data=v1_ticket(f"t{n}", "open", 3),
            package="helpdesk",
        )
    tenant.upgrade("1.0.0", "2.0.0")
    assert all(t["state"] == "open" for t in tenant.data("tickets").values())
    assert len(tenant.data("tickets")) == 250


@pytest.mark.skipif(not V1_MANIFEST.is_file(), reason="helpdesk_v1 sources not alongside")
def test_the_v1_fixture_tickets_match_the_1_0_manifest() -> None:
    (collection,) = json.loads(V1_MANIFEST.read_text())["collections"]
    for data in V1_TICKETS.values():
        jsonschema.validate(data, collection["schema"])
