"""Transactional outbox: events are rows written with the change, then relayed to RabbitMQ.

``stage_events`` inserts a transaction's events (in the order they were published) in one
statement, and after the commit the relay of the same process is woken in memory, so an event
leaves within milliseconds of the commit. Writers outside a service process (tools) send a
NOTIFY instead, which the relays LISTEN for; a slow poll is only the safety net (a replica that
died between its commit and its publish: another replica's poll sends its rows). No NOTIFY per
transaction: PostgreSQL serialises the commits of every transaction that sent one. The relay
claims a batch of rows (marks them sent, in id order, in one UPDATE), publishes them as
persistent messages in that order on one channel and awaits the broker's confirms together
before it commits: a crash or a failed publish in between rolls the claim back and the rows go
again (at least once), and consumers' inboxes drop the duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq
import asyncpg
from aio_pika.abc import AbstractExchange
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from sqlalchemy import ColumnElement, Row, Select, Table, func, select, true, update
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.sql.dml import ReturningUpdate

from kliniki import tracing
from kliniki.broker import Broker
from kliniki.db import KernelTables, insert_rows
from kliniki.events import PARTITION_KEY_HEADER, CloudEvent

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "kliniki_outbox"
# ``Session.info`` key of the relay's wake-up in a service process (``OutboxRelay.attach``).
RELAY_WAKE = "kliniki.outbox_relay_wake"
BATCH_SIZE = 200
GAUGES_EVERY_SECONDS = 1.0

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


OUTBOX_COLUMNS = ("event_id", "routing_key", "envelope")


async def stage_events(
    session: AsyncSession,
    tables: KernelTables,
    events: list[CloudEvent],
    *,
    then: Select[str] | None = None,
    then_params: dict[str, Any] | None = None,
) -> str | None:
    """Write ``events`` to the outbox in the session's transaction, in this order, in one
    statement. In a service the relay of the same process is woken after the commit
    (``wake_relay``); elsewhere (a tool) a NOTIFY in the same statement wakes the relays.

    ``then``: a one-value query (built once; its binds in ``then_params``) run by the same
    statement, saving its own round trip (the audit chain's head, locked:
    ``audit.chain_head``); its value is returned (None if there were no events, or it found
    no row)."""
    if not events:
        return None
    params: dict[str, Any] = {
        "rows": [
            {
                "event_id": event.id,
                "routing_key": event.routing_key,
                "envelope": event.model_dump(mode="json", exclude_none=True),
            }
            for event in events
        ]
    }
    if RELAY_WAKE not in session.info:
        await session.execute(_staging_with_notify(tables.outbox), params)
    elif then is not None:
        head: str | None = await session.scalar(
            _staging_with(tables.outbox, then), {**params, **(then_params or {})}
        )
        return head
    else:
        await session.execute(insert_rows(tables.outbox, OUTBOX_COLUMNS), params)
    return await session.scalar(then, then_params) if then is not None else None


@functools.cache
def _staging_with(outbox: Table, then: Select[str]) -> Select[str]:
    return then.add_cte(insert_rows(outbox, OUTBOX_COLUMNS).cte("staged"))


@functools.cache
def _staging_with_notify(outbox: Table) -> Select[Any]:
    # A data-modifying CTE runs whether or not the SELECT reads it.
    return select(func.pg_notify(NOTIFY_CHANNEL, "")).add_cte(
        insert_rows(outbox, OUTBOX_COLUMNS).cte("staged")
    )


def wake_relay(session: AsyncSession) -> None:
    """After a commit that wrote events: the relay of this process publishes them now."""
    wake = session.info.get(RELAY_WAKE)
    if wake is not None:
        wake.set()


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
        self.wake = asyncio.Event()  # set: rows were committed, publish them now
        self._gauges_read_at = -GAUGES_EVERY_SECONDS
        self._claim_next = self._claim([])  # every pass runs it: built once

    def attach(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Sessions of ``sessionmaker`` wake this relay after committing events, in memory."""
        sessionmaker.configure(info={**sessionmaker.kw.get("info", {}), RELAY_WAKE: self.wake})

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
            self.wake.clear()
            self._broker.reconnected.clear()

    async def _wait_for_work(self) -> None:
        wake = asyncio.create_task(self.wake.wait())
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
        sent_total = 0
        skipped: list[int] = []
        while True:
            async with self._engine.begin() as conn:
                # The batch is claimed (marked sent) before it is published, in one statement,
                # and the transaction stays open while the broker confirms: a failed publish
                # rolls the claim back (a crash closes the transaction, the same). The rows'
                # locks are taken in id order, so a second relay (another replica) waits at
                # the first row of this batch and, once this one committed, finds those rows
                # sent and goes on behind them: one relay at a time, a record's events in order.
                claim = self._claim_next if not skipped else self._claim(skipped)
                rows = sorted((await conn.execute(claim)).all(), key=lambda row: row.id)
                if rows:
                    sent = await self._publish_batch(conn, exchange, rows, skipped)
                    EVENTS_PUBLISHED.inc(sent)
                    sent_total += sent
                if len(rows) < BATCH_SIZE:  # nothing left behind this batch (when it began)
                    await self._update_gauges(conn)
                    return sent_total

    def _claim(self, skipped: list[int]) -> ReturningUpdate[tuple[int, str, Any]]:
        """Mark the next batch sent (``skipped``: rows that failed in this pass) and return
        its id, routing key and envelope; its rows are locked in id order."""
        outbox = self._outbox
        batch = (
            select(outbox.c.id)
            .where(outbox.c.published_at.is_(None), self._not_parked())
            .where(outbox.c.id.not_in(skipped) if skipped else true())
            .order_by(outbox.c.id)
            .limit(BATCH_SIZE)
            .with_for_update()
        )
        return (
            update(outbox)
            .where(outbox.c.id.in_(batch))
            .values(published_at=func.now(), attempts=outbox.c.attempts + 1)
            .returning(outbox.c.id, outbox.c.routing_key, outbox.c.envelope)
        )

    async def _publish_batch(
        self,
        conn: AsyncConnection,
        exchange: AbstractExchange,
        rows: Sequence[Row[Any, Any, Any]],  # id, routing key, envelope; claimed as sent
        skipped: list[int],
    ) -> int:
        """Publish ``rows`` in id order on the one channel (so per-visit order holds) and
        await the broker's confirms together; a row the broker refused is unclaimed."""
        outcomes = await asyncio.gather(
            *(self._publish_row(exchange, row) for row in rows), return_exceptions=True
        )
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome is None:
                continue
            if isinstance(outcome, TRANSIENT_ERRORS) or not self._broker.is_connected:
                raise outcome  # the path to the broker failed, not the row: all stay
            if not isinstance(outcome, Exception):
                raise outcome  # cancelled
            await self._record_failure(conn, row.id, row.routing_key, outcome)
            skipped.append(row.id)
        return sum(outcome is None for outcome in outcomes)

    async def _publish_row(self, exchange: AbstractExchange, row: Row[Any, Any, Any]) -> None:
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

    def _not_parked(self) -> ColumnElement[bool]:
        return self._outbox.c.attempts < self._max_attempts

    async def _record_failure(
        self, conn: AsyncConnection, row_id: int, routing_key: str, exc: Exception
    ) -> None:
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
        attempts = await conn.scalar(  # its claim counted the attempt
            update(self._outbox)
            .where(self._outbox.c.id == row_id)
            .values(published_at=None, last_error=error)
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
        holds (waiting, with the oldest one's age). At most once a second: a scrape is no
        more frequent, and under load a pass comes every few milliseconds."""
        now_seconds = time.monotonic()
        if now_seconds - self._gauges_read_at < GAUGES_EVERY_SECONDS:
            return
        self._gauges_read_at = now_seconds
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
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self.wake.set())
                self.wake.set()  # catch up on anything committed while not listening
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
