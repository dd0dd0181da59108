"""Fan-out between notifier replicas: every replica hears every stored notification.

Each replica binds its own exclusive, auto-deleted queue to ``notifier.events`` and pushes what
it hears to the sockets it holds. Live delivery is best effort by design: a replica that misses
a frame (its broker link dropped) loses nothing, because clients ``resume`` from their cursor
and the notification is in the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractIncomingMessage, ExchangeType

from kliniki.events import CloudEvent
from kliniki.kernel import Kernel
from notifier.handlers import NOTIFICATION_CREATED
from notifier.hub import Hub

log = logging.getLogger(__name__)


def live_fanout(hub: Hub) -> Callable[[Kernel], Awaitable[None]]:
    async def notifier_live_fanout(kernel: Kernel) -> None:
        connection = await kernel.broker.connected()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=256)
        exchange = await channel.declare_exchange(
            kernel.settings.exchange_name("notifier"), ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(exchange, NOTIFICATION_CREATED)

        async def on_message(message: AbstractIncomingMessage) -> None:
            async with message.process(ignore_processed=True):
                try:
                    event = CloudEvent.model_validate_json(message.body)
                except ValueError:
                    log.error("ignoring a malformed live frame: %r", message.body[:200])
                    return
                for notification in event.data.get("notifications", []):
                    hub.deliver(notification)

        await queue.consume(on_message)
        await asyncio.Future()

    return notifier_live_fanout
