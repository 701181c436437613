"""Declarative bases, column types and helpers shared by every storage model.

Host tables live in one schema (``fleetprompt`` on PostgreSQL, the host file on SQLite).
Tenant tables are declared once under the placeholder schema :data:`TENANT_SCHEMA` and
bound to a tenant's real schema at run time through ``schema_translate_map``, so no SQL
is ever built by formatting a tenant name into it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

#: The PostgreSQL schema that holds the host tables (owned by the host role).
HOST_SCHEMA = "fleetprompt"
#: The placeholder schema of every tenant table; translated per session.
TENANT_SCHEMA = "fp_tenant"

#: JSON on SQLite, JSONB on PostgreSQL (indexable, compact, equality-comparable).
JSONType = JSON().with_variant(JSONB(), "postgresql")
#: A 64-bit integer primary key that is still SQLite's rowid alias.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

# Stable constraint names keep migrations reproducible across both dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both dialects.

    SQLite has no time zones and hands back naive values; this type stores UTC and
    always returns aware datetimes, so code never compares naive with aware values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; convert aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        moment: datetime = (
            datetime.fromisoformat(value)  # pragma: no cover - defensive, SQLite returns datetime
            if isinstance(value, str)
            else value
        )
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_id() -> str:
    """Return a new random identifier (a UUID in its canonical text form)."""
    return str(uuid.uuid4())


class HostBase(DeclarativeBase):
    """Base of the host-level tables (tenant registry, known packages, audit)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TenantBase(DeclarativeBase):
    """Base of the per-tenant tables; schema bound per session (see module doc)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
