"""audit hash chain

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:50:11.881374
"""

from collections.abc import Sequence

from kliniki.migration_ops import add_audit_hash_chain, drop_audit_hash_chain

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_audit_hash_chain()


def downgrade() -> None:
    drop_audit_hash_chain()
