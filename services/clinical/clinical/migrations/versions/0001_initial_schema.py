"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 05:04:18.205460
"""

from collections.abc import Sequence

from kliniki.migration_ops import create_kernel_tables_v1, create_worklist_tables_v1, drop_kernel_tables_v1, drop_worklist_tables_v1

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kernel_tables_v1()
    create_worklist_tables_v1()


def downgrade() -> None:
    drop_worklist_tables_v1()
    drop_kernel_tables_v1()
