"""Signals as CloudEvents 1.0 (JSON event format), for export to other systems.

Mapping: ``id`` = signal id, ``source`` = ``/fleetprompt/<tenant>/<signal source>``,
``type`` = signal type, ``time`` = ``occurred_at`` (RFC 3339), ``subject`` = ``TYPE:ID``,
``datacontenttype`` = ``application/json``, ``data`` = signal data. Extension attributes
(lowercase letters and digits, as the spec requires): ``sequence`` (the tenant's seq, a
string as in the Sequence extension), ``correlationid``, ``causationid``, ``actor``,
``tenant``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fleetprompt_host.storage.models import SignalRow

SPEC_VERSION = "1.0"


def to_cloudevent(row: SignalRow, tenant: str) -> dict[str, Any]:
    """Return the CloudEvents 1.0 JSON object of a stored signal."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": row.id,
        "source": f"/fleetprompt/{quote(tenant)}/{quote(row.source, safe='')}",
        "type": row.type,
        "time": row.occurred_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": row.data,
        "sequence": str(row.seq),
        "tenant": tenant,
    }
    if row.subject_type is not None:
        event["subject"] = f"{row.subject_type}:{row.subject_id}"
    for name, value in (
        ("correlationid", row.correlation_id),
        ("causationid", row.causation_id),
        ("actor", row.actor),
    ):
        if value is not None:
            event[name] = value
    return event
