"""audit chains

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 02:55:00.000000
"""

from collections.abc import Sequence

from kliniki.migration_ops import add_audit_chains, drop_audit_chains

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_audit_chains()


def downgrade() -> None:
    drop_audit_chains()
