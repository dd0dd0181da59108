"""wait escalation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

from kliniki.migration_ops import add_wait_escalation_v4, drop_wait_escalation_v4

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_wait_escalation_v4()


def downgrade() -> None:
    drop_wait_escalation_v4()
