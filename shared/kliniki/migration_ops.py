"""Operations several services' Alembic migrations share (kept here so they are written once)."""

from __future__ import annotations

from alembic import op

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION kliniki_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def make_audit_log_append_only() -> None:
    """Refuse UPDATE and DELETE on audit_log at the database (the hash chain detects the rest)."""
    op.execute(_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION kliniki_audit_log_append_only()"
    )


def drop_audit_log_append_only() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS kliniki_audit_log_append_only()")
