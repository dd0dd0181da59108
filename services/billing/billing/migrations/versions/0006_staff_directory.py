"""staff directory

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:40:00.000000
"""

from collections.abc import Sequence

from kliniki.migration_ops import create_staff_directory_v1, drop_staff_directory_v1

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_staff_directory_v1()


def downgrade() -> None:
    drop_staff_directory_v1()
