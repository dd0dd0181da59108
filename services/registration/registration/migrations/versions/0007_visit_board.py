"""the visits board: who has the patient at each stage, and its escalation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('report_stage_waits', sa.Column('assigned_to_user_id', sa.Text(), nullable=True))
    op.add_column('report_stage_waits', sa.Column('assigned_to_name', sa.Text(), nullable=True))
    op.add_column(
        'report_stage_waits',
        sa.Column('escalation_level', sa.Integer(), nullable=False, server_default='0'),
    )
    op.add_column(
        'report_stage_waits',
        sa.Column('assignment_version', sa.Integer(), nullable=False, server_default='0'),
    )
    # The board asks for a visit's stages still open.
    op.create_index(
        'ix_report_stage_waits_open',
        'report_stage_waits',
        ['visit_id'],
        postgresql_where=sa.text('done_at IS NULL'),
    )


def downgrade() -> None:
    op.drop_index('ix_report_stage_waits_open', table_name='report_stage_waits')
    op.drop_column('report_stage_waits', 'assignment_version')
    op.drop_column('report_stage_waits', 'escalation_level')
    op.drop_column('report_stage_waits', 'assigned_to_name')
    op.drop_column('report_stage_waits', 'assigned_to_user_id')
