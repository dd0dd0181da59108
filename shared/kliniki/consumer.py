"""The consumer loop: partitioned quorum queues, inbox dedup, ack after commit, retries, DLQ.

Scale-out in order. A consumer purpose (``triage.inbox``) is a consistent-hash exchange of that
name, bound to the source topic exchanges, spreading events over K quorum queues
``triage.inbox.p0`` .. ``p<K-1>`` by the ``x-kliniki-partition-key`` header the outbox relay
sets (the patient, else the visit, else the publishing service): one patient's events always
land in the same partition, in publication order. Each partition is a single-active-consumer
queue: every replica subscribes to all K, the broker delivers a partition to one of them at a
time, and when that replica dies the next in line takes the partition over at once (its
unacknowledged messages first). Within a replica every partition has its own channel and up to
``consumer_prefetch`` of its messages in hand; messages of one partition key take turns in
delivery order, those of different keys are handled at once (up to ``consumer_concurrency``
per purpose): one patient's events in order, other patients' beside them, also within a
partition. RabbitMQ 3.10 does not rebalance single-active consumers, so a replica that holds
more than its share (K / replicas, counted as consumers of ``triage.inbox.replicas``) hands the
extra partitions on: it stops starting messages there, lets those being handled commit and
acknowledges them, then closes the partition's channel. Closing (unlike a cancel) gives the
messages still in hand back to the queue ahead of the rest *as* the next replica in line
becomes active, so that one starts with them, in order, and two replicas never work on one
partition at once. Then it subscribes again at the back of the line as a standby.

For each message:
1. parse the CloudEvent (garbage goes straight to the dead-letter queue, with the reason);
2. in one transaction, record the event id in the inbox (a redelivered event stops here) and
   run the handler, which writes through the same unit of work (changes, outbox, audit);
3. ack only after that commit.
A handler error is retried after the delays in ``consumer_retry_delays_ms`` (through one TTL
queue per delay, so a waiting message blocks nothing), then dead-lettered with the reason. An
outage of the service's own database is not the message's fault: it is retried until the
database is back, without using up the message's retries.

A retried message goes back through the consistent-hash exchange, so to its own partition, at
its tail: events of the same patient queued behind it may be applied before it (as before
partitions, when the retry went to the back of the single queue). A handler that depends on an
earlier event raises RetryLater until it is there.

Topology, for the purpose ``triage.inbox``: the exchange ``triage.inbox`` (x-consistent-hash),
the partitions ``triage.inbox.p<i>`` (quorum, single active consumer), ``triage.inbox.retry.<ms>ms``
(one per delay, dead-lettering back into the exchange), ``triage.inbox.dead`` and
``triage.inbox.replicas`` (never holds a message: its consumer count is the number of replicas).
The inbox, the metrics and the logs name the purpose, ``triage.inbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    ExchangeType,
)
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

from kliniki import tracing
from kliniki.broker import Broker
from kliniki.db import KernelTables, is_database_unavailable
from kliniki.events import PARTITION_KEY_HEADER, CloudEvent
from kliniki.settings import ServiceSettings
from kliniki.uow import UnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, CloudEvent], Awaitable[None]]

ATTEMPT_HEADER = "x-kliniki-attempt"
# A message of our own, sent to a partition to find (or hand on) its active consumer.
PROBE_HEADER = "x-kliniki-probe"
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


ACTIVE_PARTITIONS = Gauge(
    "kliniki_consumer_active_partitions",
    "Partitions this replica is the active consumer of (it knows of by a delivery)",
    ["queue"],
)
PARTITIONS_HANDED_ON = Counter(
    "kliniki_consumer_partitions_handed_on_total",
    "Partitions handed on to another replica to even out the shares",
    ["queue"],
)


class MissingBrokerPlugin(RuntimeError):
    """The broker cannot partition: say how to fix it, rather than a bare AMQP 503."""

    def __init__(self) -> None:
        super().__init__(
            f"RabbitMQ's {CONSISTENT_HASH_PLUGIN} plugin is not enabled, so no event can be "
            f"consumed: run `rabbitmq-plugins enable {CONSISTENT_HASH_PLUGIN}` on the broker "
            "(make run and make test do it for a local broker; see the README)"
        )


CONSISTENT_HASH_PLUGIN = "rabbitmq_consistent_hash_exchange"


async def _never_called(message: AbstractIncomingMessage) -> None:
    """The consumer of the roll-call queue (nothing is ever published there)."""


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


class _Turns:
    """Messages of one partition key take turns, in delivery order (an asyncio.Lock wakes its
    waiters first come, first served); a key's lock lives while a message of it is in hand."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def of(self, key: str) -> AsyncIterator[None]:
        lock, holders = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._locks[key]
            if holders == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, holders - 1)


@dataclass
class _Partition:
    """One partition queue as this replica sees it, on a channel of its own."""

    name: str
    channel: AbstractChannel | None = None
    turns: _Turns = field(default_factory=_Turns)
    # Delivered to us and not yet acknowledged or left to go back (being handled or waiting).
    in_hand: int = 0
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    # A message came since we subscribed: the broker made us the partition's active consumer,
    # and we stay it until we close the channel or lose it.
    active: bool = False
    # Handing it on: start nothing more; what is left in hand goes back with the channel.
    handing_on: bool = False


class EventConsumer:
    def __init__(
        self,
        settings: ServiceSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: KernelTables,
        broker: Broker,
        purpose: str,
        subscriptions: list[Subscription],
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.tables = tables
        self.broker = broker
        # The purpose's name: its exchange, its inbox consumer, its metrics' label.
        self.queue_name = settings.queue_name(purpose)
        self.subscriptions = subscriptions
        self._handlers = {(s.service, s.routing_key): s.handler for s in subscriptions}
        self._channel: AbstractChannel | None = None
        self._partitions: dict[str, _Partition] = {}
        # Events of this purpose being handled at once (each holds a database connection).
        self._handling = asyncio.Semaphore(settings.consumer_concurrency)
        # For /readyz: subscribed to every partition, or why not (the last failure).
        self.consuming = False
        self.last_error: str | None = None

    @property
    def partition_queue_names(self) -> list[str]:
        return [f"{self.queue_name}.p{i}" for i in range(self.settings.consumer_partitions)]

    @property
    def retry_queue_names(self) -> list[str]:
        return [f"{self.queue_name}.retry.{ms}ms" for ms in self.settings.consumer_retry_delays_ms]

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.queue_name}.dead"

    @property
    def replicas_queue_name(self) -> str:
        return f"{self.queue_name}.replicas"

    async def declare(self) -> list[AbstractQueue]:
        """Declare the purpose's topology (idempotent); return its partition queues."""
        connection = await self.broker.connected()
        # The control channel: topology, retries and dead letters, probes, the roll call.
        # Each partition is consumed on a channel of its own (``_subscribe``).
        channel = await connection.channel(publisher_confirms=True)
        self._channel = channel
        try:
            partitioner = await channel.declare_exchange(
                self.queue_name,
                ExchangeType.X_CONSISTENT_HASH,
                durable=True,
                arguments={"hash-header": PARTITION_KEY_HEADER},
            )
        except aiormq.exceptions.ConnectionCommandInvalid as exc:
            if "x-consistent-hash" not in str(exc):
                raise
            raise MissingBrokerPlugin() from exc
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
                    # Back through the partitioner: the partition key header is kept, so the
                    # message returns to its own partition.
                    "x-dead-letter-exchange": self.queue_name,
                },
            )
        partitions: list[AbstractQueue] = []
        for name in self.partition_queue_names:
            queue = await channel.declare_queue(
                name,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-single-active-consumer": True,
                    # Safety net: a message rejected outside our handling still lands somewhere.
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.dead_letter_queue_name,
                },
            )
            await queue.bind(partitioner, "1")  # equal weights: equal shares of the hash ring
            partitions.append(queue)
        for service, routing_key in self._handlers:
            exchange = await channel.declare_exchange(
                self.settings.exchange_name(service), ExchangeType.TOPIC, durable=True
            )
            await partitioner.bind(exchange, routing_key)
        await channel.declare_queue(self.replicas_queue_name, durable=True)
        return partitions

    async def run(self) -> None:
        try:
            queues = await self.declare()
            assert self._channel is not None
            self._partitions = {queue.name: _Partition(queue.name) for queue in queues}
            for partition in self._partitions.values():
                await self._subscribe(partition)
            # Then answer the roll call (nothing is published there: being subscribed is the
            # answer), so that the others hand partitions on only once we are in every line.
            # A passive declare, not get_queue: only declared queues get their consumers back
            # when the robust channel reconnects.
            replicas = await self._channel.declare_queue(self.replicas_queue_name, passive=True)
            await replicas.consume(_never_called, no_ack=True)
            log.info("consuming %s (%d partitions)", self.queue_name, len(self._partitions))
            self.consuming, self.last_error = True, None
            await self._balance_forever()
        except Exception as exc:  # the supervisor logs it and starts this again
            self.last_error = f"{exc.__class__.__name__}: {exc}"[:300]
            raise
        finally:
            self.consuming = False
            # Crashed (restarted by the supervisor) or stopped: whatever this replica held goes
            # back to the broker, and on to the next replica in line.
            ACTIVE_PARTITIONS.labels(self.queue_name).set(0)
            channels = [p.channel for p in self._partitions.values()] + [self._channel]
            for channel in channels:
                if channel is not None and not channel.is_closed:
                    with contextlib.suppress(Exception):
                        await channel.close()

    async def _subscribe(self, partition: _Partition) -> None:
        """Join the partition's line of consumers, on a channel of its own."""
        connection = await self.broker.connected()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.settings.consumer_prefetch)
        if isinstance(channel, AbstractRobustChannel):
            # After a reconnection we are a new consumer, at the back of the line.
            channel.reopen_callbacks.add(lambda *_: self._forget_active(partition))
        partition.channel = channel
        # Declared (passively), so the robust channel subscribes it again after a reconnection.
        queue = await channel.declare_queue(partition.name, passive=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._on_message(partition, channel, message)

        await queue.consume(on_message)

    @staticmethod
    def _forget_active(partition: _Partition) -> None:
        partition.active = partition.handing_on = False

    async def _on_message(
        self, partition: _Partition, channel: AbstractChannel, message: AbstractIncomingMessage
    ) -> None:
        if channel is not partition.channel:
            return  # came on a channel closed since (handed on): it went back with it
        partition.active = True
        partition.in_hand += 1
        partition.settled.clear()
        key = str((message.headers or {}).get(PARTITION_KEY_HEADER, ""))
        try:
            async with partition.turns.of(key), self._handling:
                if partition.handing_on:
                    return  # not acknowledged: it goes back, ahead of the rest, with the channel
                if not (message.headers or {}).get(PROBE_HEADER):
                    await self.process(message)
                await message.ack()
        finally:
            partition.in_hand -= 1
            if partition.in_hand == 0:
                partition.settled.set()

    async def _hand_on(self, partition: _Partition) -> None:
        """Stop being the partition's active consumer: the messages being handled commit and
        are acknowledged, then the channel closes, giving back what else we hold as the next
        replica in line becomes active. Then queue up again as a standby."""
        partition.handing_on = True
        while partition.in_hand:
            await partition.settled.wait()
        # Forgotten first: a delivery of the closing channel still on its way finds it is not
        # the partition's channel any more and leaves the message to go back with it.
        closing, partition.channel = partition.channel, None
        if closing is not None:
            with contextlib.suppress(Exception):  # a lost channel gave everything back too
                await closing.close()
        self._forget_active(partition)
        PARTITIONS_HANDED_ON.labels(self.queue_name).inc()
        log.info("handed partition %s on to another replica", partition.name)
        await self._subscribe(partition)

    async def _balance_forever(self) -> None:
        """Keep this replica's share of active partitions at about K / replicas."""
        known_replicas = 0
        while True:
            await asyncio.sleep(self.settings.consumer_balance_seconds)
            try:
                known_replicas = await self._balance(known_replicas)
            except (
                aio_pika.exceptions.AMQPError,
                aiormq.exceptions.ChannelInvalidStateError,
                ConnectionError,
                TimeoutError,
            ) as exc:
                # The broker is away: the robust channels reconnect and subscribe again by
                # themselves (we then start again at the back of every line); try next period.
                log.info("cannot balance %s now: %r", self.queue_name, exc)

    async def _balance(self, known_replicas: int) -> int:
        """One look at the shares; returns the replica count seen."""
        replicas = await self._replica_count()
        if replicas != known_replicas:
            # Learn which idle partitions are ours: a probe reaches the active consumer.
            for partition in self._partitions.values():
                if not partition.active:
                    await self._probe(partition)
            known_replicas = replicas
        active = [p for p in self._partitions.values() if p.active and not p.handing_on]
        share = math.ceil(len(self._partitions) / max(replicas, 1))
        await asyncio.gather(*(self._hand_on(partition) for partition in active[share:]))
        ACTIVE_PARTITIONS.labels(self.queue_name).set(len(active[:share]))
        return known_replicas

    async def _replica_count(self) -> int:
        assert self._channel is not None
        # Asked of the broker each time (aio-pika's robust channel would answer a passive
        # declare from its cache).
        channel = await self._channel.get_underlay_channel()
        declared = await channel.queue_declare(self.replicas_queue_name, passive=True)
        return declared.consumer_count or 1

    async def _probe(self, partition: _Partition) -> None:
        assert self._channel is not None
        await self._channel.default_exchange.publish(
            aio_pika.Message(b"", headers={PROBE_HEADER: True}), routing_key=partition.name
        )

    async def process(self, message: AbstractIncomingMessage) -> None:
        """Apply, retry or dead-letter one message; the caller acknowledges it afterwards."""
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
            EVENTS_CONSUMED.labels(self.queue_name, "ignored").inc()
            return
        attempts = (message.headers or {}).get(ATTEMPT_HEADER)
        attempt = int(attempts) if isinstance(attempts, int | str) and attempts else 0
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
        EVENTS_CONSUMED.labels(self.queue_name, "applied" if applied else "duplicate").inc()

    async def _apply(self, event: CloudEvent, handler: EventHandler) -> bool:
        """Run the handler once per event id; False when the inbox shows it was handled."""
        async with self.sessionmaker() as session:
            first_time = (
                await session.execute(
                    _inbox_entry(self.tables.inbox),
                    {"consumer": self.queue_name, "event_id": event.id, "event_type": event.type},
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

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, attempt: int = 0
    ) -> None:
        log.error("dead-lettering message %s: %s", message.message_id, reason)
        await self._republish(message, self.dead_letter_queue_name, attempt, reason)
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
            }
        )
        # Where it was first published (a retried message comes back from the partitioner).
        headers.setdefault("x-kliniki-original-exchange", message.exchange or "")
        headers.setdefault("x-kliniki-original-routing-key", message.routing_key or "")
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


@functools.cache
def _inbox_entry(inbox: Table) -> ReturningInsert[tuple[str]]:
    """The event's inbox row, unless it is there: no row back means handled before. Built
    once (a statement built per event cost more CPU than its round trip)."""
    return pg_insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)
