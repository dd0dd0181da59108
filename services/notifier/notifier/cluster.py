"""Presence and typing shared between notifier replicas through RabbitMQ.

Every replica binds its own exclusive queue ``<ns>notifier.presence.<replica>`` to the fanout
exchange ``<ns>notifier.presence`` (not durable, deleted with the last replica: presence is
worth nothing after a restart) and publishes there:

- a ``presence`` or ``typing`` delta the moment one of its sockets changes something;
- a ``snapshot`` of everything its sockets hold every ``presence_heartbeat_seconds``: this is
  the heartbeat. A replica not heard from for ``presence_replica_expiry_seconds`` (killed, cut
  off) is forgotten by the others, and its users leave everywhere;
- ``hello`` when it starts (the others answer with a snapshot at once) and ``bye`` when it
  stops cleanly (the others forget it at once).

Messages are transient with a TTL: a replica that was away wants the present, not the past.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, ExchangeType
from prometheus_client import Gauge

from kliniki.kernel import Kernel
from notifier.presence import PresenceBoard
from notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

REPLICAS_SEEN = Gauge("kliniki_presence_replicas", "Other notifier replicas this one hears")
OUTGOING_LIMIT = 10_000


def new_replica_id() -> str:
    return uuid.uuid4().hex[:12]


def exchange_name(settings: NotifierSettings) -> str:
    return f"{settings.broker_namespace}notifier.presence"


class PresenceCluster:
    """Carries one replica's presence gossip to the others and theirs to its board."""

    def __init__(self, board: PresenceBoard, settings: NotifierSettings) -> None:
        self.board = board
        self.settings = settings
        self._outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue(OUTGOING_LIMIT)
        board.gossip = self.send

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the other replicas; dropped when the broker is long gone (the
        next snapshot carries the truth anyway)."""
        with contextlib.suppress(asyncio.QueueFull):
            self._outgoing.put_nowait(message)

    def background_tasks(self) -> list[Callable[[Kernel], Awaitable[None]]]:
        async def presence_gossip(kernel: Kernel) -> None:
            await self.gossip_forever(kernel)

        async def presence_clock(kernel: Kernel) -> None:
            await self.sweep_forever()

        return [presence_gossip, presence_clock]

    async def sweep_forever(self) -> None:
        """Expiry runs without the broker too: local typing and silent sockets still expire."""
        settings = self.settings
        tick = max(
            0.05,
            min(
                settings.presence_heartbeat_seconds,
                settings.typing_expiry_seconds,
                settings.presence_client_timeout_seconds,
                settings.presence_replica_expiry_seconds,
            )
            / 4,
        )
        since_snapshot = 0.0
        while True:
            await asyncio.sleep(tick)
            self.board.sweep()
            REPLICAS_SEEN.set(len(self.board.remote_replicas))
            since_snapshot += tick
            if since_snapshot >= settings.presence_heartbeat_seconds or self.board.snapshot_wanted:
                since_snapshot = 0.0
                self.board.snapshot_wanted = False
                self.send(self.board.snapshot())

    async def gossip_forever(self, kernel: Kernel) -> None:
        connection = await kernel.broker.connected()
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name(self.settings), ExchangeType.FANOUT, durable=False, auto_delete=True
        )
        queue = await channel.declare_queue(
            f"{exchange_name(self.settings)}.{self.board.replica_id}",
            exclusive=True,
            auto_delete=True,
            arguments={
                "x-message-ttl": int(self.settings.presence_replica_expiry_seconds * 1000),
                "x-max-length": OUTGOING_LIMIT,
            },
        )
        await queue.bind(exchange)
        await queue.consume(self._on_message, no_ack=True)
        self.send({"kind": "hello"})
        self.send(self.board.snapshot())
        try:
            while True:
                message = await self._outgoing.get()
                await self._publish(exchange, message)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # best effort: the others forget us at once
                await asyncio.wait_for(self._publish(exchange, {"kind": "bye"}), timeout=1)
            raise

    async def _publish(self, exchange: AbstractExchange, message: dict[str, Any]) -> None:
        body = json.dumps({"replica": self.board.replica_id, **message}).encode()
        try:
            await exchange.publish(
                aio_pika.Message(
                    body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
                ),
                routing_key="",
                timeout=5,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker away: the robust connection comes back by itself
            log.warning("presence gossip not sent (%s): %s", message.get("kind"), exc)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            payload = json.loads(message.body)
        except ValueError:
            log.warning("ignoring a presence message that is not JSON")
            return
        if isinstance(payload, dict):
            self.board.on_gossip(payload)
