"""Reading a user's stored notifications: replay after a reconnect, the unread list, reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.access import frame_for
from kliniki.auth import Principal
from kliniki.paging import Page, PageRequest, fetch_page
from notifier.frames import SIGNALS
from notifier.models import Notification, NotificationRead

REPLAY_BATCH = 500


def _addressed_to(principal: Principal) -> Any:
    return or_(
        Notification.recipient_user_id == principal.user_id,
        and_(
            Notification.recipient_user_id.is_(None),
            Notification.recipient_roles.overlap(sorted(principal.roles)),
        ),
    )


async def missed_since(
    session: AsyncSession,
    principal: Principal,
    after: int,
    limit: int = REPLAY_BATCH,
    until: int | None = None,
) -> list[Notification]:
    """The user's notifications with ``after < id`` (and ``id <= until``), oldest first."""
    query = select(Notification).where(_addressed_to(principal), Notification.id > after)
    if until is not None:
        query = query.where(Notification.id <= until)
    query = query.order_by(Notification.id).limit(limit)
    return list((await session.scalars(query)).all())


async def listing(
    session: AsyncSession, principal: Principal, unread_only: bool, page: PageRequest
) -> Page:
    """Unread first (newest first within each group), as the user may see them."""
    read = exists().where(
        NotificationRead.user_id == principal.user_id,
        NotificationRead.notification_id == Notification.id,
    )
    query = select(Notification).where(_addressed_to(principal), Notification.event.not_in(SIGNALS))
    if unread_only:
        query = query.where(~read)
    found = await fetch_page(session, query, [read, -Notification.id], page)
    ids = [n.id for n in found.items]
    already_read = set(
        (
            await session.scalars(
                select(NotificationRead.notification_id).where(
                    NotificationRead.user_id == principal.user_id,
                    NotificationRead.notification_id.in_(ids),
                )
            )
        ).all()
    )
    out = []
    for notification in found.items:
        data = frame_for(notification.event, notification.data, principal.roles)
        if data is None:
            continue
        out.append(
            {
                "id": notification.id,
                "event": notification.event,
                "data": data,
                "read": notification.id in already_read,
                "createdAt": notification.created_at,
            }
        )
    return Page(out, found.next_cursor)


async def mark_read(session: AsyncSession, principal: Principal, ids: list[int]) -> int:
    """Mark the user's own notifications read; ids that are not theirs are ignored."""
    if not ids:
        return 0
    theirs = (
        await session.scalars(
            select(Notification.id).where(Notification.id.in_(ids), _addressed_to(principal))
        )
    ).all()
    if theirs:
        await session.execute(
            pg_insert(NotificationRead)
            .values([{"user_id": principal.user_id, "notification_id": i} for i in theirs])
            .on_conflict_do_nothing()
        )
    return len(theirs)
