"""Live delivery of stored notifications to this replica's sockets: in id order, none skipped.

Several replicas store notifications at once, and their outbox relays publish independently, so
``notification.created`` messages may arrive out of id order. The socket cursor (``resume``)
needs each user's frames in id order, so the broker message is only a wake-up: the replica
reads ``notifications`` from the database after the last id it delivered (its *tail*). That is
gap-free because a trigger (migration 0002) makes notification ids commit in order: once id N
is visible, every smaller id is committed or gone for good. When a message carries exactly the
ids after the tail (the usual case) they are delivered without reading the database. The
replica that stored the frames offers them itself right after its commit
(``deliver_own_commits``), so its own sockets do not wait for the relay and the broker; the
announcement that follows is known by its event id and dropped unread.

Each replica binds its own exclusive, auto-deleted queue to ``notifier.events`` and takes it
without acknowledgements (a wake-up lost with a connection shows as a gap in the next offer,
which reads the database); a slow poll catches anything else whose wake-up was lost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, ExchangeType
from sqlalchemy import func, select

from kliniki.contracts.notifier import NOTIFICATION_CREATED
from kliniki.events import CloudEvent
from kliniki.kernel import Kernel
from notifier.handlers import LIVE_OFFER
from notifier.hub import Hub
from notifier.models import Notification

log = logging.getLogger(__name__)

CATCH_UP_BATCH = 500
OWN_ANNOUNCEMENTS_KEPT = 4096  # far more than can be in flight between commit and echo


class NotificationTail:
    """The last notification id this replica delivered live, and the delivering."""

    def __init__(self, hub: Hub, poll_seconds: float) -> None:
        self.hub = hub
        self.poll_seconds = poll_seconds
        self.position: int | None = None  # None until read from the database
        self.ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._reading = asyncio.Lock()
        # Event ids of this replica's own announcements, offered at their commit already.
        self._own: collections.deque[str] = collections.deque(maxlen=OWN_ANNOUNCEMENTS_KEPT)
        self._own_ids: set[str] = set()

    def offer_own(self, announcement_id: str, notifications: list[dict[str, Any]]) -> None:
        """This replica's commit stored ``notifications``; its announcement needs no reading."""
        if len(self._own) == self._own.maxlen:
            self._own_ids.discard(self._own[0])
        self._own.append(announcement_id)
        self._own_ids.add(announcement_id)
        self.offer(notifications)

    def is_own(self, announcement_id: str | None) -> bool:
        return announcement_id in self._own_ids

    def offer(self, notifications: list[dict[str, Any]]) -> None:
        """What was stored (committed): from the broker, or from this replica's own commit."""
        notifications = sorted(notifications, key=lambda n: int(n["id"]))
        ids = [n["id"] for n in notifications]
        if (
            self.position is not None
            and not self._reading.locked()
            and ids == list(range(self.position + 1, self.position + 1 + len(ids)))
        ):
            for notification in notifications:
                self.hub.deliver(notification)
            self.position = ids[-1] if ids else self.position
            return
        if self.position is None or not ids or max(ids) > self.position:
            self._wake.set()

    async def catch_up(self, kernel: Kernel) -> None:
        async with self._reading, kernel.sessionmaker() as session:
            if self.position is None:
                self.position = await session.scalar(
                    select(func.coalesce(func.max(Notification.id), 0))
                )
                self.hub.set_floor(self.position or 0)
                self.ready.set()
            while True:
                rows = (
                    await session.execute(
                        select(
                            Notification.id,
                            Notification.event,
                            Notification.data,
                            Notification.recipient_user_id,
                            Notification.recipient_roles,
                        )
                        .where(Notification.id > self.position)
                        .order_by(Notification.id)
                        .limit(CATCH_UP_BATCH)
                    )
                ).all()
                await session.rollback()  # a fresh snapshot for the next batch
                for row in rows:
                    self.hub.deliver(
                        {
                            "id": row.id,
                            "event": row.event,
                            "data": row.data,
                            "recipientUserId": row.recipient_user_id,
                            "recipientRoles": row.recipient_roles,
                        }
                    )
                    self.position = row.id
                if len(rows) < CATCH_UP_BATCH:
                    return

    async def read_forever(self, kernel: Kernel) -> None:
        while True:
            try:
                await self.catch_up(kernel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: sockets resume from it when it is back
                log.warning("cannot read new notifications: %s", exc)
                await asyncio.sleep(1)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()


def deliver_own_commits(tail: NotificationTail) -> Callable[[Kernel], Awaitable[None]]:
    """A startup step: this process's units of work offer their frames to ``tail`` once
    committed (``notifier.handlers.store_and_announce``)."""

    async def offer_own_commits_live(kernel: Kernel) -> None:
        info = kernel.sessionmaker.kw.get("info", {})
        kernel.sessionmaker.configure(info={**info, LIVE_OFFER: tail.offer_own})

    return offer_own_commits_live


def live_tasks(
    tail: NotificationTail, replica_id: str
) -> list[Callable[[Kernel], Awaitable[None]]]:
    async def notifier_live_fanout(kernel: Kernel) -> None:
        connection = await kernel.broker.connected()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=256)
        exchange = await channel.declare_exchange(
            kernel.settings.exchange_name("notifier"), ExchangeType.TOPIC, durable=True
        )
        # Named (not server-named) so the robust connection can declare it again after a cut.
        queue = await channel.declare_queue(
            f"{kernel.settings.broker_namespace}notifier.live.{replica_id}",
            exclusive=True,
            auto_delete=True,
        )
        await queue.bind(exchange, NOTIFICATION_CREATED)

        async def on_message(message: AbstractIncomingMessage) -> None:
            if tail.is_own(message.message_id):  # offered at its commit
                return
            try:
                event = CloudEvent.model_validate_json(message.body)
                notifications = list(event.data.get("notifications", []))
            except (ValueError, KeyError, TypeError):
                log.error("ignoring a malformed live frame: %r", message.body[:200])
                return
            tail.offer(notifications)

        await queue.consume(on_message, no_ack=True)
        await asyncio.Future()

    async def notifier_live_reader(kernel: Kernel) -> None:
        await tail.read_forever(kernel)

    return [notifier_live_fanout, notifier_live_reader]
