"""assignment reason and one active per visit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:18:22.214853
"""

from collections.abc import Sequence

from kliniki.migration_ops import add_assignment_reason_v2, drop_assignment_reason_v2

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_assignment_reason_v2()


def downgrade() -> None:
    drop_assignment_reason_v2()
