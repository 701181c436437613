"""The host-level work index: which tenants have pending work, and since when it is due.

Workers find due work here instead of scanning every tenant's schema. One row per tenant
with pending work (directives requested or leased, deliveries pending); the row goes away
when the tenant has none. ``due_at`` is never later than the earliest due item of the
tenant (it may be earlier: a worker that finds nothing to claim moves it forward).
``generation`` changes on every mark, so a worker that read the row before a mark never
deletes or postpones it by mistake. ``last_served_at`` orders due tenants for fair,
least-recently-served scheduling. See :mod:`fleetprompt_host.engine.scheduler`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base import HOST_SCHEMA, HostBase, UTCDateTime, utcnow


class TenantWorkRow(HostBase):
    """A tenant with pending work: when its next item is due and when it was last served."""

    __tablename__ = "work_queue"
    __table_args__ = (
        Index(None, "due_at"),
        Index(None, "last_served_at"),
        {"schema": HOST_SCHEMA},
    )

    slug: Mapped[str] = mapped_column(String(41), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    last_served_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
