"""Host work index: ``work_queue`` (tenants with pending work) and, on PostgreSQL,
``fleetprompt_work.mark_due``: the one function a tenant role may call outside its schema.

A request for work commits in the tenant's transaction; marking the tenant due must commit
with it, or a crash between the two would lose the work from the index. Tenant roles have
no privileges on the host schema, so the mark goes through a SECURITY DEFINER function
that only ever marks the caller's own tenant (it checks ``session_user`` against the
registry) and notifies idle workers in the same transaction.

Revision ID: h0002
Revises: h0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fleetprompt_host.migrations.helpers import TIMESTAMP, current_schema, quoted

revision = "h0002"
down_revision = "h0001"
branch_labels = None
depends_on = None

#: Schema of the mark function; tenant roles get USAGE on it and nothing else.
FUNCTION_SCHEMA = "fleetprompt_work"
#: The LISTEN/NOTIFY channel (kept in step with fleetprompt_host.engine.wakeup.CHANNEL).
CHANNEL = "fleetprompt_work"


def upgrade() -> None:
    """Create ``work_queue`` (and the mark function on PostgreSQL)."""
    schema = current_schema()
    op.create_table(
        "work_queue",
        sa.Column("slug", sa.String(length=41), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("last_served_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_work_queue"),
        schema=schema,
    )
    op.create_index("ix_work_queue_due_at", "work_queue", ["due_at"], schema=schema)
    op.create_index("ix_work_queue_last_served_at", "work_queue", ["last_served_at"], schema=schema)
    if op.get_context().dialect.name == "postgresql":
        _create_mark_function(schema)


def _create_mark_function(schema: str | None) -> None:
    fn_schema = quoted(None, FUNCTION_SCHEMA)
    work, tenants = quoted(schema, "work_queue"), quoted(schema, "tenants")
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {fn_schema}")
    op.execute(f"REVOKE ALL ON SCHEMA {fn_schema} FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA {fn_schema} TO PUBLIC")
    # SECURITY DEFINER runs as the host role: a fixed search_path and qualified names keep
    # a caller from substituting objects; the session_user check keeps a tenant to itself.
    op.execute(
        f"""
        CREATE FUNCTION {fn_schema}.mark_due(p_slug text, p_due timestamptz)
        RETURNS void LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $body$
        BEGIN
            IF session_user <> current_user AND NOT EXISTS (
                SELECT 1 FROM {tenants} t
                WHERE t.slug = p_slug AND t.db_role = session_user AND t.status = 'active'
            ) THEN
                RAISE EXCEPTION 'role % may not mark tenant % due', session_user, p_slug
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            INSERT INTO {work} AS w (slug, due_at, generation, last_served_at, updated_at)
            VALUES (p_slug, COALESCE(p_due, now()), 1, now(), now())
            ON CONFLICT (slug) DO UPDATE
                SET due_at = LEAST(w.due_at, EXCLUDED.due_at),
                    generation = w.generation + 1,
                    updated_at = now();
            PERFORM pg_notify('{CHANNEL}', p_slug);
        END
        $body$
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {fn_schema}.mark_due(text, timestamptz) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {fn_schema}.mark_due(text, timestamptz) TO PUBLIC")


def downgrade() -> None:
    """Drop ``work_queue`` (and the mark function)."""
    schema = current_schema()
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {quoted(None, FUNCTION_SCHEMA)} CASCADE")
    op.drop_table("work_queue", schema=schema)
