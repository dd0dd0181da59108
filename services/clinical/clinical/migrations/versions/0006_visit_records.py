"""visit records and follow-ups (the visit as FHIR)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'visit_records',
        sa.Column('visit_id', sa.Text(), nullable=False),
        sa.Column('patient_id', sa.Text(), nullable=False),
        sa.Column('phone_number', sa.Text(), nullable=True),
        sa.Column('status', sa.Text(), nullable=True),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('source_sequence', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('visit_id', name=op.f('pk_visit_records')),
    )
    op.create_index(op.f('ix_visit_records_patient_id'), 'visit_records', ['patient_id'])
    op.create_table(
        'follow_ups',
        sa.Column('appointment_id', sa.Text(), nullable=False),
        sa.Column('patient_id', sa.Text(), nullable=False),
        sa.Column('visit_id', sa.Text(), nullable=True),
        sa.Column('appointment_date', sa.Date(), nullable=False),
        sa.Column('appointment_type', sa.Text(), nullable=False),
        sa.Column('clinician_id', sa.Text(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('appointment_id', name=op.f('pk_follow_ups')),
    )
    op.create_index(op.f('ix_follow_ups_visit_id'), 'follow_ups', ['visit_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_follow_ups_visit_id'), table_name='follow_ups')
    op.drop_table('follow_ups')
    op.drop_index(op.f('ix_visit_records_patient_id'), table_name='visit_records')
    op.drop_table('visit_records')
