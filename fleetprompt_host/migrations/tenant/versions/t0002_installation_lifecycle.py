"""Installation lifecycle: the statuses operators see, the active manifest, a generation
counter for reinstalls, and the table of encrypted secret config values.

Revision ID: t0002
Revises: t0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fleetprompt_host.migrations.helpers import JSON_DOC, TIMESTAMP, current_schema

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None

NEW_STATUSES = ("requested", "installing", "installed", "failed", "disabled", "uninstalled")
OLD_STATUSES = ("installing", "installed", "upgrading", "removing", "removed", "failed")
#: How rows written under t0001 map onto the new vocabulary (and back).
FORWARD = {"upgrading": "installed", "removing": "installed", "removed": "uninstalled"}
BACKWARD = {"requested": "installing", "disabled": "installed", "uninstalled": "removed"}


def _remap(schema: str | None, mapping: dict[str, str]) -> None:
    table = sa.table("installations", sa.column("status", sa.String), schema=schema)
    for old, new in mapping.items():
        op.execute(table.update().where(table.c.status == old).values(status=new))


def _check(statuses: tuple[str, ...]) -> str:
    return f"status IN {statuses!r}"


def upgrade() -> None:
    """Widen the status vocabulary, add ``manifest`` and ``generation``, add secrets."""
    schema = current_schema()
    with op.batch_alter_table("installations", schema=schema, recreate="auto") as batch:
        batch.drop_constraint("ck_installations_status", type_="check")
    _remap(schema, FORWARD)
    with op.batch_alter_table("installations", schema=schema, recreate="auto") as batch:
        batch.add_column(sa.Column("manifest", JSON_DOC, nullable=True))
        batch.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.create_check_constraint("ck_installations_status", _check(NEW_STATUSES))
    op.create_table(
        "installation_secrets",
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("package", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("ref", name="pk_installation_secrets"),
        schema=schema,
    )
    op.create_index(
        "ix_installation_secrets_package_field",
        "installation_secrets",
        ["package", "field"],
        schema=schema,
    )
    op.create_index(
        "ix_installation_secrets_key_id", "installation_secrets", ["key_id"], schema=schema
    )


def downgrade() -> None:
    """Drop the secrets table and the new columns; fold the new statuses back."""
    schema = current_schema()
    op.drop_table("installation_secrets", schema=schema)
    with op.batch_alter_table("installations", schema=schema, recreate="auto") as batch:
        batch.drop_constraint("ck_installations_status", type_="check")
    _remap(schema, BACKWARD)
    with op.batch_alter_table("installations", schema=schema, recreate="auto") as batch:
        batch.drop_column("generation")
        batch.drop_column("manifest")
        batch.create_check_constraint("ck_installations_status", _check(OLD_STATUSES))
