"""Tenant tables: members, installations, records, signals, deliveries, directives,
executions, conversations; signals made append-only by a trigger.

Revision ID: t0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fleetprompt_host.migrations.helpers import (
    BIGINT_PK,
    JSON_DOC,
    TIMESTAMP,
    current_schema,
    qualified,
    quoted,
)

revision = "t0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
    "messages",
    "execution_steps",
    "deliveries",
    "conversations",
    "counters",
    "directives",
    "executions",
    "installations",
    "members",
    "records",
    "signals",
)


def upgrade() -> None:
    """Create every tenant table, its indexes and the append-only trigger on signals."""
    schema = current_schema()

    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("agent", sa.String(length=120), nullable=True),
        sa.Column("meta", JSON_DOC, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        schema=schema,
    )
    op.create_index(
        "ix_conversations_actor_updated_at",
        "conversations",
        ["actor", "updated_at"],
        unique=False,
        schema=schema,
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
        schema=schema,
    )
    op.create_table(
        "directives",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("params", JSON_DOC, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("params_hash", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("causation_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", TIMESTAMP, nullable=False),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("completed_at", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("result", JSON_DOC, nullable=True),
        sa.Column("error", JSON_DOC, nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'running', 'succeeded', 'failed', 'canceled')",
            name="ck_directives_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_directives"),
        sa.UniqueConstraint("idempotency_key", name="uq_directives_idempotency_key"),
        schema=schema,
    )
    op.create_index(
        "ix_directives_correlation_id",
        "directives",
        ["correlation_id"],
        unique=False,
        schema=schema,
    )
    op.create_index(
        "ix_directives_requested_at", "directives", ["requested_at"], unique=False, schema=schema
    )
    op.create_index(
        "ix_directives_status_run_after",
        "directives",
        ["status", "run_after"],
        unique=False,
        schema=schema,
    )
    op.create_index(
        "ix_directives_type_requested_at",
        "directives",
        ["type", "requested_at"],
        unique=False,
        schema=schema,
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("causation_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("summary", JSON_DOC, nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'canceled')", name="ck_executions_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
        schema=schema,
    )
    op.create_index(
        "ix_executions_correlation_id",
        "executions",
        ["correlation_id"],
        unique=False,
        schema=schema,
    )
    op.create_index(
        "ix_executions_kind_started_at",
        "executions",
        ["kind", "started_at"],
        unique=False,
        schema=schema,
    )
    op.create_index(
        "ix_executions_started_at", "executions", ["started_at"], unique=False, schema=schema
    )
    op.create_index(
        "ix_executions_status_started_at",
        "executions",
        ["status", "started_at"],
        unique=False,
        schema=schema,
    )
    op.create_table(
        "installations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("package", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("config", JSON_DOC, nullable=False),
        sa.Column("secret_refs", JSON_DOC, nullable=False),
        sa.Column("config_checksum", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("directive_id", sa.String(length=36), nullable=True),
        sa.Column("error", JSON_DOC, nullable=True),
        sa.Column("installed_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('installing', 'installed', 'upgrading', 'removing', 'removed', 'failed')",
            name="ck_installations_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_installations"),
        sa.UniqueConstraint("package", name="uq_installations_package"),
        schema=schema,
    )
    op.create_index(
        "ix_installations_status", "installations", ["status"], unique=False, schema=schema
    )
    op.create_table(
        "members",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member')", name="ck_members_role"),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sa.UniqueConstraint("actor", name="uq_members_actor"),
        schema=schema,
    )
    op.create_table(
        "records",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("package", sa.String(length=64), nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("provisioned", sa.Boolean(), nullable=False),
        sa.Column("created_by_directive", sa.String(length=36), nullable=True),
        sa.Column("created_by_actor", sa.String(length=120), nullable=True),
        sa.Column("updated_by_directive", sa.String(length=36), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.UniqueConstraint(
            "package", "collection", "key", name="uq_records_package_collection_key"
        ),
        schema=schema,
    )
    op.create_index(
        "ix_records_collection_key", "records", ["collection", "key"], unique=False, schema=schema
    )
    op.create_index("ix_records_updated_at", "records", ["updated_at"], unique=False, schema=schema)
    op.create_table(
        "signals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("source_event_id", sa.String(length=200), nullable=True),
        sa.Column("subject_type", sa.String(length=100), nullable=True),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("causation_id", sa.String(length=64), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
        sa.UniqueConstraint("dedupe_key", name="uq_signals_dedupe_key"),
        sa.UniqueConstraint("seq", name="uq_signals_seq"),
        sa.UniqueConstraint("source", "source_event_id", name="uq_signals_source_source_event_id"),
        schema=schema,
    )
    op.create_index(
        "ix_signals_correlation_id", "signals", ["correlation_id"], unique=False, schema=schema
    )
    op.create_index(
        "ix_signals_occurred_at", "signals", ["occurred_at"], unique=False, schema=schema
    )
    op.create_index(
        "ix_signals_recorded_at", "signals", ["recorded_at"], unique=False, schema=schema
    )
    op.create_index(
        "ix_signals_subject_type_subject_id_seq",
        "signals",
        ["subject_type", "subject_id", "seq"],
        unique=False,
        schema=schema,
    )
    op.create_index("ix_signals_type_seq", "signals", ["type", "seq"], unique=False, schema=schema)
    op.create_table(
        "deliveries",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("signal_id", sa.String(length=36), nullable=False),
        sa.Column("signal_seq", sa.BigInteger(), nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        sa.Column("replay", sa.Boolean(), nullable=False),
        sa.Column("last_error", JSON_DOC, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("completed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'done', 'dead')", name="ck_deliveries_status"),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            [qualified(schema, "signals.id")],
            name="fk_deliveries_signal_id_signals",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        schema=schema,
    )
    op.create_index(
        "ix_deliveries_signal_id", "deliveries", ["signal_id"], unique=False, schema=schema
    )
    op.create_index(
        "ix_deliveries_status_next_attempt_at",
        "deliveries",
        ["status", "next_attempt_at"],
        unique=False,
        schema=schema,
    )
    op.create_index(
        "uq_deliveries_first_delivery",
        "deliveries",
        ["signal_id", "handler"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("NOT replay"),
        sqlite_where=sa.text("replay = 0"),
    )
    op.create_table(
        "execution_steps",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("input", JSON_DOC, nullable=True),
        sa.Column("output", JSON_DOC, nullable=True),
        sa.Column("error", JSON_DOC, nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("tokens_in", sa.Integer(), nullable=True),
        sa.Column("tokens_out", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('llm_call', 'tool_call', 'handler_delivery', "
            "'directive_run', 'signal_emitted')",
            name="ck_execution_steps_kind",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            [qualified(schema, "executions.id")],
            name="fk_execution_steps_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_execution_steps"),
        sa.UniqueConstraint("execution_id", "seq", name="uq_execution_steps_execution_id_seq"),
        schema=schema,
    )
    op.create_index(
        "ix_execution_steps_kind_started_at",
        "execution_steps",
        ["kind", "started_at"],
        unique=False,
        schema=schema,
    )
    op.create_table(
        "messages",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("tool_calls", JSON_DOC, nullable=True),
        sa.Column("tool_call_id", sa.String(length=200), nullable=True),
        sa.Column("execution_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "role IN ('system', 'user', 'assistant', 'tool')", name="ck_messages_role"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [qualified(schema, "conversations.id")],
            name="fk_messages_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_id_seq"),
        schema=schema,
    )
    _append_only_signals(schema)


def _append_only_signals(schema: str | None) -> None:
    signals = quoted(schema, "signals")
    if op.get_context().dialect.name == "postgresql":
        # DELETE is let through only inside the host's audited retention path, which sets
        # fleetprompt.signal_retention locally; tenant roles lack DELETE anyway.
        function = quoted(schema, "fp_signals_append_only")
        op.execute(
            f"""
            CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                IF TG_OP = 'DELETE'
                   AND current_setting('fleetprompt.signal_retention', true) = 'on' THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION 'signals are append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $body$
            """
        )
        op.execute(
            f"CREATE TRIGGER signals_append_only BEFORE UPDATE OR DELETE ON {signals} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
        op.execute(
            f"CREATE TRIGGER signals_no_truncate BEFORE TRUNCATE ON {signals} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    else:
        # SQLite: the retention path drops and recreates the delete trigger inside its
        # own transaction; tenant connections are refused any DDL by their authorizer.
        op.execute(
            f"CREATE TRIGGER signals_no_update BEFORE UPDATE ON {signals} "
            "BEGIN SELECT RAISE(ABORT, 'signals are append-only: UPDATE refused'); END"
        )
        op.execute(
            f"CREATE TRIGGER signals_no_delete BEFORE DELETE ON {signals} "
            "BEGIN SELECT RAISE(ABORT, 'signals are append-only: DELETE refused'); END"
        )


def downgrade() -> None:
    """Drop every tenant table (and the trigger function on PostgreSQL)."""
    schema = current_schema()
    for table in TABLES:
        op.drop_table(table, schema=schema)
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {quoted(schema, 'fp_signals_append_only')}()")
