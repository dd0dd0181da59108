"""The RabbitMQ connection of one service (aio-pika robust connection).

The service starts even when the broker is away: :meth:`Broker.run` keeps trying to connect in
the background, and everything that needs the broker awaits :meth:`Broker.connected`. Once
connected, aio-pika's robust connection re-opens channels and re-registers consumers by itself
after a network cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractRobustConnection,
    ExchangeType,
)

from kliniki.settings import ServiceSettings

log = logging.getLogger(__name__)


class Broker:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._connection: AbstractRobustConnection | None = None
        self._connected = asyncio.Event()
        self._publish_channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self.reconnected = asyncio.Event()  # set on every (re)connection; the relay listens

    async def run(self) -> None:
        """Connect, retrying with capped backoff until it works."""
        delay = 0.2
        while self._connection is None:
            try:
                connection = await aio_pika.connect_robust(
                    self.settings.amqp_url,
                    client_properties={"connection_name": self.settings.service_name},
                    timeout=10,
                )
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                log.warning("broker unreachable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            connection.reconnect_callbacks.add(self._on_reconnect)
            self._connection = connection
            self._publish_channel = await connection.channel(publisher_confirms=True)
            self._connected.set()
            self.reconnected.set()
            log.info("connected to the broker")

    def _on_reconnect(self, *_: object) -> None:
        log.info("reconnected to the broker")
        self.reconnected.set()

    async def connected(self) -> AbstractRobustConnection:
        await self._connected.wait()
        assert self._connection is not None
        return self._connection

    @property
    def is_connected(self) -> bool:
        # ``connected`` is cleared while a robust connection is down and reconnecting.
        return self._connection is not None and self._connection.connected.is_set()

    async def exchange(self, service: str) -> AbstractExchange:
        """The durable topic exchange ``<service>.events`` (declared once, idempotently)."""
        await self.connected()
        name = self.settings.exchange_name(service)
        if name not in self._exchanges:
            assert self._publish_channel is not None
            self._exchanges[name] = await self._publish_channel.declare_exchange(
                name, ExchangeType.TOPIC, durable=True
            )
        return self._exchanges[name]

    @property
    def publish_channel(self) -> AbstractChannel:
        assert self._publish_channel is not None, "await connected() first"
        return self._publish_channel

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
