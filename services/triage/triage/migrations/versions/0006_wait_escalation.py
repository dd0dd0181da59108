"""wait escalation and the encounter's SATS colour

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kliniki.migration_ops import add_wait_escalation_v4, drop_wait_escalation_v4

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_wait_escalation_v4()
    op.add_column('encounters', sa.Column('triage_colour', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('encounters', 'triage_colour')
    drop_wait_escalation_v4()
