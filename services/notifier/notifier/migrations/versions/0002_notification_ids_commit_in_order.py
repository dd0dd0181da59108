"""notification ids commit in order

Several notifier replicas store notifications at once. Without help, one transaction can take
id 10, another id 11, and 11 commit first: a reader that saw 11 (live delivery, or a client's
``resume {after: 11}``) would never see 10. A statement-level trigger takes a transaction
advisory lock *before* the insert draws its ids, so inserting transactions take ids and commit
one after another: once id N is visible, every smaller id is committed or rolled back.
The lock is held from the insert to the commit of the handler's short transaction.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:36:55.063737
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        create function notifications_in_id_order() returns trigger
        language plpgsql as $$
        begin
            perform pg_advisory_xact_lock(hashtext('kliniki.notifications.id-order'));
            return null;
        end
        $$
        """
    )
    op.execute(
        """
        create trigger notifications_in_id_order
        before insert on notifications
        for each statement execute function notifications_in_id_order()
        """
    )


def downgrade() -> None:
    op.execute("drop trigger if exists notifications_in_id_order on notifications")
    op.execute("drop function if exists notifications_in_id_order()")
