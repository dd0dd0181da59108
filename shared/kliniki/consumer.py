"""The consumer loop: durable quorum queue, inbox dedup, ack after commit, retries, dead letters.

For each message:
1. parse the CloudEvent (garbage goes straight to the dead-letter queue, with the reason);
2. in one transaction, record the event id in the inbox (a redelivered event stops here) and
   run the handler, which writes through the same unit of work (changes, outbox, audit);
3. ack only after that commit.
A handler error is retried after the delays in ``consumer_retry_delays_ms`` (through one TTL
queue per delay, so a waiting message blocks nothing), then dead-lettered with the reason. An
outage of the service's own database is not the message's fault: it is retried until the
database is back, without using up the message's retries.

Topology, for a queue ``triage.intake``: ``triage.intake`` (quorum), ``triage.intake.retry.N``
(one per delay, dead-lettering back into the queue) and ``triage.intake.dead``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, ExchangeType
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from kliniki import tracing
from kliniki.broker import Broker
from kliniki.db import KernelTables, is_database_unavailable
from kliniki.events import CloudEvent
from kliniki.settings import ServiceSettings
from kliniki.uow import UnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, CloudEvent], Awaitable[None]]

ATTEMPT_HEADER = "x-kliniki-attempt"
ERROR_HEADER = "x-kliniki-error"

EVENTS_CONSUMED = Counter(
    "kliniki_events_consumed_total",
    "Events taken from a queue, by outcome (applied, duplicate, retried, dead_lettered, ignored)",
    ["queue", "outcome"],
)
HANDLING_SECONDS = Histogram(
    "kliniki_consumer_handling_seconds", "Time to apply one event (its transaction)", ["queue"]
)
# The queue is first in, first out: the age of the event at its head is the consumer's lag.
CONSUMER_LAG = Gauge(
    "kliniki_consumer_lag_seconds",
    "Age of the event being handled (since it was written at its source)",
    ["queue"],
)


class RetryLater(Exception):
    """The event cannot be applied yet (e.g. it overtook the event it depends on)."""


class RefuseEvent(Exception):
    """The event contradicts what this service knows (a visit of another patient): it goes
    straight to the dead-letter queue with the reason, untouched by retries."""


@dataclass(frozen=True)
class Subscription:
    """Handle ``routing_key`` events from ``<service>.events`` with ``handler``; ``model`` is
    the event's data model (kliniki.contracts) when the handler gets it parsed
    (``kliniki.contracts.subscribe``)."""

    service: str
    routing_key: str
    handler: EventHandler
    model: type[BaseModel] | None = None


def in_turn(first: EventHandler, then: EventHandler) -> EventHandler:
    """Two handlers of one event, one after the other in the same transaction."""

    async def both(uow: UnitOfWork, event: CloudEvent) -> None:
        await first(uow, event)
        await then(uow, event)

    return both


class EventConsumer:
    def __init__(
        self,
        settings: ServiceSettings,
        sessionmaker: async_sessionmaker,
        tables: KernelTables,
        broker: Broker,
        purpose: str,
        subscriptions: list[Subscription],
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.tables = tables
        self.broker = broker
        self.queue_name = settings.queue_name(purpose)
        self.subscriptions = subscriptions
        self._handlers = {(s.service, s.routing_key): s.handler for s in subscriptions}
        # Messages are processed one at a time, in delivery order (prefetch still pipelines).
        self._lock = asyncio.Lock()
        self._channel: AbstractChannel | None = None

    @property
    def retry_queue_names(self) -> list[str]:
        return [
            f"{self.queue_name}.retry.{i + 1}"
            for i in range(len(self.settings.consumer_retry_delays_ms))
        ]

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.queue_name}.dead"

    async def declare(self) -> AbstractQueue:
        connection = await self.broker.connected()
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.settings.consumer_prefetch)
        self._channel = channel
        await channel.declare_queue(
            self.dead_letter_queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        for name, delay in zip(
            self.retry_queue_names, self.settings.consumer_retry_delays_ms, strict=True
        ):
            await channel.declare_queue(
                name,
                durable=True,
                arguments={
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.queue_name,
                },
            )
        queue = await channel.declare_queue(
            self.queue_name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                # Safety net: a message rejected outside our handling still lands somewhere.
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.dead_letter_queue_name,
            },
        )
        for service, routing_key in self._handlers:
            exchange = await channel.declare_exchange(
                self.settings.exchange_name(service), ExchangeType.TOPIC, durable=True
            )
            await queue.bind(exchange, routing_key)
        return queue

    async def run(self) -> None:
        queue = await self.declare()
        await queue.consume(self._on_message)
        log.info("consuming %s", self.queue_name)
        await asyncio.Future()  # consume until cancelled

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        async with self._lock:
            await self.process(message)

    async def process(self, message: AbstractIncomingMessage) -> None:
        try:
            event = CloudEvent.model_validate_json(message.body)
        except ValidationError as exc:
            await self._dead_letter(message, f"not a valid CloudEvent: {exc.errors()[:3]}")
            return
        source_service = event.source.rsplit("/", 1)[-1]
        handler = self._handlers.get((source_service, event.routing_key)) or self._handlers.get(
            (source_service, "#")
        )
        if handler is None:  # bound by a wider key, or a type we do not handle: ignore
            await message.ack()
            EVENTS_CONSUMED.labels(self.queue_name, "ignored").inc()
            return
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0) or 0)
        CONSUMER_LAG.labels(self.queue_name).set(
            max(0.0, (dt.datetime.now(dt.UTC) - event.time).total_seconds())
        )
        backoff = 0.2
        started = time.perf_counter()
        while True:
            try:
                applied = await self._apply(event, handler)
                HANDLING_SECONDS.labels(self.queue_name).observe(time.perf_counter() - started)
                break
            except asyncio.CancelledError:
                raise
            except RefuseEvent as exc:
                await self._dead_letter(message, f"refused: {exc}", attempt)
                return
            except Exception as exc:
                if is_database_unavailable(exc):
                    log.warning("database unavailable handling %s, retrying: %s", event.id, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                await self._retry_or_dead_letter(message, attempt, exc)
                return
        await message.ack()
        EVENTS_CONSUMED.labels(self.queue_name, "applied" if applied else "duplicate").inc()

    async def _apply(self, event: CloudEvent, handler: EventHandler) -> bool:
        """Run the handler once per event id; False when the inbox shows it was handled."""
        async with self.sessionmaker() as session:
            inbox = self.tables.inbox
            first_time = (
                await session.execute(
                    pg_insert(inbox)
                    .values(consumer=self.queue_name, event_id=event.id, event_type=event.type)
                    .on_conflict_do_nothing()
                    .returning(inbox.c.event_id)
                )
            ).first()
            if first_time is None:
                await session.rollback()
                return False
            uow = UnitOfWork(
                session,
                self.tables,
                self.settings.service_name,
                # The person whose action caused this event is the actor of what follows from it.
                actor_id=event.actorid or f"system:{self.settings.service_name}",
                correlation_id=event.correlationid or event.id,
                traceparent=event.traceparent,
            )
            with tracing.span(
                f"{event.routing_key} process",
                SpanKind.CONSUMER,
                event.traceparent,
                **{"messaging.destination.name": self.queue_name, "messaging.message.id": event.id},
            ):
                uow.traceparent = tracing.current_traceparent(event.traceparent)
                await handler(uow, event)
            await uow.commit()
            return True

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, attempt: int, exc: BaseException
    ) -> None:
        reason = f"{exc.__class__.__name__}: {exc}"
        if attempt < len(self.retry_queue_names):
            log.warning("handler failed (attempt %d), will retry: %s", attempt + 1, reason)
            await self._republish(message, self.retry_queue_names[attempt], attempt + 1, reason)
            EVENTS_CONSUMED.labels(self.queue_name, "retried").inc()
        else:
            await self._dead_letter(message, reason, attempt)
            return
        await message.ack()

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, attempt: int = 0
    ) -> None:
        log.error("dead-lettering message %s: %s", message.message_id, reason)
        await self._republish(message, self.dead_letter_queue_name, attempt, reason)
        await message.ack()
        EVENTS_CONSUMED.labels(self.queue_name, "dead_lettered").inc()

    async def _republish(
        self, message: AbstractIncomingMessage, queue: str, attempt: int, reason: str
    ) -> None:
        assert self._channel is not None
        headers = dict(message.headers or {})
        headers.update(
            {
                ATTEMPT_HEADER: attempt,
                ERROR_HEADER: reason[:2000],
                "x-kliniki-original-exchange": message.exchange or "",
                "x-kliniki-original-routing-key": message.routing_key or "",
            }
        )
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                headers=headers,
                content_type=message.content_type,
                message_id=message.message_id,
                type=message.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=queue,
        )
