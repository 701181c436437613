"""Per-tenant counters that hand out gap-free, commit-ordered numbers (signal ``seq``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..base import TENANT_SCHEMA, TenantBase


class CounterRow(TenantBase):
    """A named counter; its row lock serialises allocations within one tenant."""

    __tablename__ = "counters"
    __table_args__ = ({"schema": TENANT_SCHEMA},)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def allocate(session: Session, name: str, count: int = 1) -> int:
    """Reserve ``count`` numbers from counter ``name``; return the last one reserved.

    The update holds the counter's row lock until the session's transaction ends, so
    numbers become visible in the order they were allocated and a rolled-back
    transaction gives its numbers back: readers that follow ``seq`` never skip a row
    that commits later with a lower number. Other tenants are unaffected (own table).
    """
    dialect = session.get_bind().dialect.name
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CounterRow)
    stmt = (
        upsert.values(name=name, value=count)
        .on_conflict_do_update(
            index_elements=[CounterRow.name], set_={"value": CounterRow.value + count}
        )
        .returning(CounterRow.value)
    )
    return int(session.execute(stmt).scalar_one())
