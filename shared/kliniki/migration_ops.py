"""Schema steps that several services' Alembic migrations share, written once.

Every service's database holds the kernel's tables, and every department's the worklist's; the
migrations that create or change them call these steps. Each step is named for the schema
version it produces and must never change once released: a later change is a new step (and a
new migration in each service), exactly as it would be in a single migration file.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def _timestamp(name: str, *, default_now: bool = False, nullable: bool = False) -> sa.Column[Any]:
    server_default = sa.text("now()") if default_now else None
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=server_default, nullable=nullable
    )


def create_kernel_tables_v1() -> None:
    """audit_log, idempotency_keys, inbox and outbox, as first released (kliniki.db)."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        _timestamp("occurred_at", default_now=True),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_resource", "audit_log", ["resource", "resource_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_fingerprint", sa.Text(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _timestamp("created_at", default_now=True),
        sa.PrimaryKeyConstraint("actor_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        _timestamp("handled_at", default_now=True),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("routing_key", sa.Text(), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _timestamp("created_at", default_now=True),
        _timestamp("published_at", nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )


def drop_kernel_tables_v1() -> None:
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_audit_log_resource", table_name="audit_log")
    op.drop_table("audit_log")


def create_worklist_tables_v1() -> None:
    """assignments, duty_roster and patient_snapshots, as first released (kliniki.worklist)."""
    op.create_table(
        "assignments",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("assignment_type", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("visit_id", sa.Text(), nullable=True),
        sa.Column("patient_name", sa.Text(), nullable=False),
        sa.Column("op_number", sa.Text(), nullable=True),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("assigned_to_user_id", sa.Text(), nullable=True),
        sa.Column("assigned_to_name", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        _timestamp("completed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    for column in ("assigned_to_user_id", "patient_id", "visit_id"):
        op.create_index(op.f(f"ix_assignments_{column}"), "assignments", [column])
    op.create_index(
        "ix_assignments_worklist", "assignments", ["status", "priority_rank", "created_at"]
    )
    op.create_table(
        "duty_roster",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_duty_roster")),
    )
    op.create_table(
        "patient_snapshots",
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("op_number", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("gender", sa.Text(), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("current_visit_id", sa.Text(), nullable=True),
        sa.Column("source_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_snapshots")),
    )


def drop_worklist_tables_v1() -> None:
    op.drop_table("patient_snapshots")
    op.drop_table("duty_roster")
    op.drop_index("ix_assignments_worklist", table_name="assignments")
    for column in ("visit_id", "patient_id", "assigned_to_user_id"):
        op.drop_index(op.f(f"ix_assignments_{column}"), table_name="assignments")
    op.drop_table("assignments")


def add_assignment_reason_v2() -> None:
    """Worklist v2: why the patient is on the list; at most one active assignment per visit."""
    op.add_column("assignments", sa.Column("reason", sa.Text(), nullable=True))
    op.create_index(
        "uq_assignments_active_visit",
        "assignments",
        ["visit_id"],
        unique=True,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )


def drop_assignment_reason_v2() -> None:
    op.drop_index(
        "uq_assignments_active_visit",
        table_name="assignments",
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.drop_column("assignments", "reason")


_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION kliniki_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def add_audit_hash_chain() -> None:
    """Kernel v2: the audit chain's columns, and UPDATE/DELETE refused by the database
    (the hash chain detects what a superuser does behind the trigger's back)."""
    op.add_column("audit_log", sa.Column("prev_hash", sa.Text(), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.Text(), nullable=True))
    op.execute(_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION kliniki_audit_log_append_only()"
    )


def drop_audit_hash_chain() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS kliniki_audit_log_append_only()")
    op.drop_column("audit_log", "hash")
    op.drop_column("audit_log", "prev_hash")


def add_audit_chains() -> None:
    """Kernel v4: the audit trail as several hash chains, so that transactions about different
    patients do not wait for one another (kliniki.audit). The records so far are chain 0."""
    op.add_column(
        "audit_log",
        sa.Column("chain", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index("ix_audit_log_chain", "audit_log", ["chain", "id"])
    op.create_table(
        "audit_chain_heads",
        sa.Column("chain", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_chain_heads")),
    )
    op.execute(
        "INSERT INTO audit_chain_heads (chain, hash) "
        "SELECT 0, hash FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1"
    )


def drop_audit_chains() -> None:
    """Back to one chain: refused while a record belongs to another (dropping the column would
    lose which chain it extends, and the single chain would no longer verify)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM audit_log WHERE chain <> 0) THEN "
        "RAISE EXCEPTION 'audit records belong to chains other than 0: cannot go back to one "
        "chain'; END IF; END $$"
    )
    op.drop_table("audit_chain_heads")
    op.drop_index("ix_audit_log_chain", table_name="audit_log")
    op.drop_column("audit_log", "chain")


def create_staff_directory_v1() -> None:
    """Kernel v3: the staff directory every service keeps from identity's events."""
    op.create_table(
        "staff_directory",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _timestamp("updated_at", default_now=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_directory")),
    )


def drop_staff_directory_v1() -> None:
    op.drop_table("staff_directory")


def create_patient_visits_v3() -> None:
    """Which patient each visit belongs to (worklist ``PatientVisit``), filled from what the
    department already knows: its patients' current visits and its assignments."""
    op.create_table(
        "patient_visits",
        sa.Column("visit_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_patient_visits")),
    )
    op.create_index(
        op.f("ix_patient_visits_patient_id"), "patient_visits", ["patient_id"], unique=False
    )
    op.execute(
        "insert into patient_visits (visit_id, patient_id)"
        " select current_visit_id, patient_id from patient_snapshots"
        " where current_visit_id is not null"
        " union select visit_id, patient_id from assignments where visit_id is not null"
        " on conflict do nothing"
    )


def drop_patient_visits_v3() -> None:
    op.drop_index(op.f("ix_patient_visits_patient_id"), table_name="patient_visits")
    op.drop_table("patient_visits")


def add_wait_escalation_v4() -> None:
    """The SATS colour of each visit (from triage) and how often an assignment was escalated
    for waiting past its colour's target (kliniki.worklist.escalation)."""
    op.add_column("patient_visits", sa.Column("triage_colour", sa.Text(), nullable=True))
    op.add_column(
        "assignments",
        sa.Column("escalation_level", sa.SmallInteger(), server_default="0", nullable=False),
    )


def drop_wait_escalation_v4() -> None:
    op.drop_column("assignments", "escalation_level")
    op.drop_column("patient_visits", "triage_colour")
