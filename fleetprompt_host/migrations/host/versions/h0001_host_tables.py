"""Host tables: tenant registry, known packages, host audit log.

Revision ID: h0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fleetprompt_host.migrations.helpers import BIGINT_PK, JSON_DOC, TIMESTAMP, current_schema

revision = "h0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the host tables."""
    schema = current_schema()
    op.create_table(
        "host_audit",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("tenant_slug", sa.String(length=41), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_host_audit"),
        schema=schema,
    )
    op.create_index("ix_host_audit_at", "host_audit", ["at"], unique=False, schema=schema)
    op.create_index(
        "ix_host_audit_tenant_slug_at",
        "host_audit",
        ["tenant_slug", "at"],
        unique=False,
        schema=schema,
    )
    op.create_table(
        "known_packages",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("manifest_checksum", sa.String(length=64), nullable=True),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_known_packages"),
        sa.UniqueConstraint("name", "version", name="uq_known_packages_name_version"),
        schema=schema,
    )
    op.create_table(
        "tenants",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=41), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("schema_name", sa.String(length=63), nullable=False),
        sa.Column("db_role", sa.String(length=63), nullable=True),
        sa.Column("db_password", sa.String(length=128), nullable=True),
        sa.Column("schema_revision", sa.String(length=64), nullable=True),
        sa.Column("migrated_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('active', 'deleting')", name="ck_tenants_status"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        schema=schema,
    )


def downgrade() -> None:
    """Drop the host tables."""
    schema = current_schema()
    for table in ("tenants", "known_packages", "host_audit"):
        op.drop_table(table, schema=schema)
