"""the daily outpatient report's read model

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'report_visit_triage',
        sa.Column('visit_id', sa.Text(), nullable=False),
        sa.Column('triage_colour', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('visit_id', name=op.f('pk_report_visit_triage')),
    )
    op.create_table(
        'report_stage_waits',
        sa.Column('assignment_id', sa.Text(), nullable=False),
        sa.Column('visit_id', sa.Text(), nullable=True),
        sa.Column('stage', sa.Text(), nullable=False),
        sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('breaches', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('assignment_id', name=op.f('pk_report_stage_waits')),
    )
    op.create_index(op.f('ix_report_stage_waits_visit_id'), 'report_stage_waits', ['visit_id'])
    op.create_table(
        'report_diagnoses',
        sa.Column('diagnosis_id', sa.Text(), nullable=False),
        sa.Column('visit_id', sa.Text(), nullable=False),
        sa.Column('code', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('diagnosis_id', name=op.f('pk_report_diagnoses')),
    )
    op.create_index(op.f('ix_report_diagnoses_visit_id'), 'report_diagnoses', ['visit_id'])
    op.create_table(
        'report_payments',
        sa.Column('payment_id', sa.Text(), nullable=False),
        sa.Column('visit_id', sa.Text(), nullable=False),
        sa.Column('payment_type', sa.Text(), nullable=False),
        sa.Column('amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_report_payments')),
    )
    op.create_index(op.f('ix_report_payments_paid_at'), 'report_payments', ['paid_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_report_payments_paid_at'), table_name='report_payments')
    op.drop_table('report_payments')
    op.drop_index(op.f('ix_report_diagnoses_visit_id'), table_name='report_diagnoses')
    op.drop_table('report_diagnoses')
    op.drop_index(op.f('ix_report_stage_waits_visit_id'), table_name='report_stage_waits')
    op.drop_table('report_stage_waits')
    op.drop_table('report_visit_triage')
