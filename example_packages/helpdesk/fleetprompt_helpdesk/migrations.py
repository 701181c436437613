"""Upgrading tickets written by helpdesk 1.x to the 2.0 shape.

1.x ticket                          2.0 ticket
``status: "open" | "closed"``   ->  ``state: "open" | "closed"``
``priority: 1 | 2 | 3 | 4``     ->  ``priority: "urgent" | "high" | "normal" | "low"``
                                    ``contact: null``, ``closed_reason: null`` (new)
"""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from fleetprompt_sdk import InstallContext

TICKETS = "tickets"
#: 1.x priorities ran from 1 (most urgent) to 4.
V1_PRIORITY_LABELS = {1: "urgent", 2: "high", 3: "normal", 4: "low"}
BATCH = 100


def ticket_from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Return the 2.0 form of a 1.x ticket's data."""
    return {
        "title": data["title"],
        "body": data.get("body", ""),
        "state": data["status"],
        "priority": V1_PRIORITY_LABELS.get(data.get("priority", 3), "normal"),
        "contact": None,
        "opened_by": data.get("opened_by"),
        "closed_reason": None,
    }


def upgrade_tickets(ctx: InstallContext, from_version: str, to_version: str) -> None:
    """Rewrite every 1.x ticket in the 2.0 shape; a no-op when coming from 2.0 or later.

    Each batch selects tickets that still have the 1.x ``status`` field; rewriting a
    ticket removes that field, so the loop ends without needing to page through records,
    and running the upgrade again finds nothing left to do.
    """
    if Version(from_version) >= Version("2.0"):
        return
    for status in ("open", "closed"):
        while batch := ctx.records.find(TICKETS, where={"status": status}, limit=BATCH):
            for record in batch:
                # put, not update: update merges and would keep the old field names.
                ctx.records.put(TICKETS, ticket_from_v1(record.data), key=record.key)
