"""patient visits

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

from kliniki.migration_ops import create_patient_visits_v3, drop_patient_visits_v3

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_patient_visits_v3()


def downgrade() -> None:
    drop_patient_visits_v3()
