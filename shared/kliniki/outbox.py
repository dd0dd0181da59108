"""Transactional outbox: events are rows written with the change, then relayed to RabbitMQ.

``stage_event`` inserts the event in the caller's transaction and queues a NOTIFY, which
PostgreSQL delivers only if that transaction commits. The relay LISTENs for it, so an event
leaves within milliseconds of the commit; a slow poll is only the safety net. Each row is
published as a persistent message with publisher confirms and marked sent afterwards: a crash
in between publishes it again (at least once), and consumers' inboxes drop the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aio_pika
import aiormq
import asyncpg
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from sqlalchemy import ColumnElement, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from kliniki import tracing
from kliniki.broker import Broker
from kliniki.db import KernelTables
from kliniki.events import PARTITION_KEY_HEADER, CloudEvent

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "kliniki_outbox"
BATCH_SIZE = 200
# The advisory lock (in each service's own database) that the relaying replica holds per batch.
RELAY_LOCK = 0x6B6C6E6B_6F757462  # "klnkoutb"

EVENTS_PUBLISHED = Counter("kliniki_events_published_total", "Events relayed to the broker")
OUTBOX_PENDING = Gauge("kliniki_outbox_pending", "Events committed but not yet published")
OUTBOX_OLDEST = Gauge(
    "kliniki_outbox_oldest_age_seconds", "Age of the oldest event waiting to be published"
)
EVENTS_PARKED = Counter(
    "kliniki_outbox_parked_total", "Outbox rows parked after repeated failed publishes"
)
OUTBOX_PARKED = Gauge("kliniki_outbox_parked_rows", "Outbox rows parked, waiting for an admin")
# Failures of the path to the broker, not of a row: they leave every row as it is.
TRANSIENT_ERRORS = (
    ConnectionError,
    OSError,
    TimeoutError,
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    aio_pika.exceptions.ChannelClosed,
)


async def stage_event(session: AsyncSession, tables: KernelTables, event: CloudEvent) -> None:
    """Write ``event`` to the outbox in the session's transaction and wake the relay on commit."""
    await session.execute(
        insert(tables.outbox).values(
            event_id=event.id,
            routing_key=event.routing_key,
            envelope=event.model_dump(mode="json", exclude_none=True),
        )
    )
    await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        tables: KernelTables,
        broker: Broker,
        asyncpg_dsn: str,
        poll_seconds: float,
        max_attempts: int = 5,
    ) -> None:
        self._engine = engine
        self._max_attempts = max_attempts
        self._outbox = tables.outbox
        self._broker = broker
        self._dsn = asyncpg_dsn
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        try:
            await self._relay_forever()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _relay_forever(self) -> None:
        exchange_service = self._broker.settings.service_name
        backoff = 0.1
        while True:
            await self._broker.connected()
            try:
                await self.publish_pending(exchange_service)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: keep the rows, try again
                log.warning("outbox relay failed, retrying in %.1fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_for_work(), timeout=self._poll_seconds)
            self._wake.clear()
            self._broker.reconnected.clear()

    async def _wait_for_work(self) -> None:
        wake = asyncio.create_task(self._wake.wait())
        reconnected = asyncio.create_task(self._broker.reconnected.wait())
        try:
            await asyncio.wait({wake, reconnected}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wake.cancel()
            reconnected.cancel()

    async def publish_pending(self, exchange_service: str) -> int:
        """Publish every unpublished row, oldest first; return how many were sent.

        A row the broker cannot take (it fails while the broker is up) is skipped so that the
        rows behind it go on; after ``max_attempts`` such failures it is parked for an admin
        (``python -m kliniki.outbox_admin``). A broker or database outage blames no row.
        """
        exchange = await self._broker.exchange(exchange_service)
        outbox = self._outbox
        sent_total = 0
        skipped: list[int] = []
        while True:
            async with self._engine.begin() as conn:
                # One relay at a time per service: replicas relaying side by side would each
                # take a batch and publish them interleaved, so a record's later event could
                # reach the broker before its earlier one. The lock ends with the batch.
                await conn.execute(select(func.pg_advisory_xact_lock(RELAY_LOCK)))
                rows = (
                    await conn.execute(
                        select(outbox.c.id, outbox.c.routing_key, outbox.c.envelope)
                        .where(outbox.c.published_at.is_(None), self._not_parked())
                        .where(outbox.c.id.not_in(skipped) if skipped else true())
                        .order_by(outbox.c.id)
                        .limit(BATCH_SIZE)
                        .with_for_update()
                    )
                ).all()
                if not rows:
                    await self._update_gauges(conn)
                    return sent_total
                sent: list[int] = []
                try:
                    for row in rows:
                        try:
                            with tracing.span(
                                f"{row.routing_key} publish",
                                SpanKind.PRODUCER,
                                row.envelope.get("traceparent"),
                                **{"messaging.destination.name": exchange.name},
                            ):
                                await exchange.publish(
                                    _message(row.id, row.envelope),
                                    routing_key=row.routing_key,
                                    mandatory=False,
                                    timeout=10,
                                )
                        except TRANSIENT_ERRORS:
                            raise
                        except Exception as exc:
                            if not self._broker.is_connected:
                                raise
                            await self._record_failure(conn, row.id, row.routing_key, exc)
                            skipped.append(row.id)
                            continue
                        sent.append(row.id)
                finally:
                    # Mark what the broker confirmed, even when a later publish failed.
                    if sent:
                        await conn.execute(
                            update(outbox)
                            .where(outbox.c.id.in_(sent))
                            .values(published_at=func.now(), attempts=outbox.c.attempts + 1)
                        )
                EVENTS_PUBLISHED.inc(len(sent))
                sent_total += len(sent)

    def _not_parked(self) -> ColumnElement[bool]:
        return self._outbox.c.attempts < self._max_attempts

    async def _record_failure(
        self, conn: AsyncConnection, row_id: int, routing_key: str, exc: Exception
    ) -> None:
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
        attempts = await conn.scalar(
            update(self._outbox)
            .where(self._outbox.c.id == row_id)
            .values(attempts=self._outbox.c.attempts + 1, last_error=error)
            .returning(self._outbox.c.attempts)
        )
        if attempts is not None and attempts >= self._max_attempts:
            EVENTS_PARKED.inc()
            log.error(
                "outbox row %s (%s) parked after %s failed publishes: %s; the rows behind it "
                "go on. List and re-send with: python -m kliniki.outbox_admin",
                row_id,
                routing_key,
                attempts,
                error,
            )
        else:
            log.warning(
                "outbox row %s (%s) failed to publish (attempt %s of %s): %s",
                row_id,
                routing_key,
                attempts,
                self._max_attempts,
                error,
            )

    async def _update_gauges(self, conn: AsyncConnection) -> None:
        """Rows left after a pass: the parked ones, and any a broker hiccup or another replica
        holds (waiting, with the oldest one's age)."""
        outbox = self._outbox
        row = (
            await conn.execute(
                select(
                    func.count().filter(self._not_parked()),
                    func.count().filter(~self._not_parked()),
                    func.min(outbox.c.created_at).filter(self._not_parked()),
                    func.now(),
                ).where(outbox.c.published_at.is_(None))
            )
        ).one()
        waiting, parked, oldest, now = row
        OUTBOX_PENDING.set(waiting or 0)
        OUTBOX_PARKED.set(parked or 0)
        OUTBOX_OLDEST.set((now - oldest).total_seconds() if oldest is not None else 0)

    async def _listen(self) -> None:
        """Hold a LISTEN connection; reconnect when the database goes away."""
        backoff = 0.2
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except Exception as exc:
                log.warning("outbox listener cannot connect, retrying: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                self._wake.set()  # catch up on anything committed while not listening
                await lost.wait()
            except asyncio.CancelledError:
                await conn.close()
                raise
            except Exception as exc:
                log.warning("outbox listener lost its connection: %s", exc)
            finally:
                if not conn.is_closed():
                    conn.terminate()


def _message(row_id: int, envelope: dict[str, object]) -> aio_pika.Message:
    """The AMQP message of an outbox row; its ``id`` becomes the event's ``sequence``."""
    event = CloudEvent.model_validate({**envelope, "sequence": row_id})
    return aio_pika.Message(
        event.to_json_bytes(),
        content_type="application/cloudevents+json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        correlation_id=event.correlationid,
        headers={PARTITION_KEY_HEADER: event.partition_key},
    )
