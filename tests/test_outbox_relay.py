"""Relays of several replicas share one outbox: each committed event leaves once, in the order
it was committed. Each relay claims its batch (marks it sent) in one statement and commits once
the broker confirmed; a second relay waits at the first row of the batch and goes on behind it."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aio_pika

from kliniki.broker import Broker
from kliniki.db import create_engine, create_sessionmaker, kernel_tables, service_metadata
from kliniki.outbox import OutboxRelay
from kliniki.settings import ServiceSettings
from kliniki.uow import UnitOfWork
from tests.support.stack import Stack
from tests.support.waiting import eventually

TRANSACTIONS, EVENTS_EACH = 100, 3


async def test_three_relays_publish_each_event_once_and_in_commit_order(stack: Stack) -> None:
    # The clinical service's own relay runs too: our commits NOTIFY every relay at once.
    settings = ServiceSettings(
        service_name="clinical",
        postgres_url=stack.postgres_url,
        database_name=stack.database("clinical"),
        amqp_url=stack.amqp_url,
        broker_namespace=stack.namespace,
    )
    tables = kernel_tables(service_metadata())
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    brokers = [Broker(settings) for _ in range(2)]
    relays = [
        OutboxRelay(engine, tables, broker, settings.asyncpg_dsn, poll_seconds=0.2)
        for broker in brokers
    ]
    received: list[tuple[int, int]] = []  # (sequence, n) as they arrive
    connection = await aio_pika.connect(stack.amqp_url)
    tasks: list[asyncio.Task[None]] = []
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            settings.exchange_name("clinical"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "relay_order.#")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            event = json.loads(message.body)
            received.append((event["sequence"], event["data"]["n"]))
            await message.ack()

        await queue.consume(on_message)
        tasks = [asyncio.create_task(b.run()) for b in brokers]
        tasks += [asyncio.create_task(r.run()) for r in relays]

        n = 0
        for _ in range(TRANSACTIONS):  # one writer: each commit after the one before
            async with sessionmaker() as session:
                uow = UnitOfWork(session, tables, "clinical", actor_id="test:relay")
                for _ in range(EVENTS_EACH):
                    await uow.publish("relay_order.step", {"n": n}, subject="relay-order")
                    n += 1
                await uow.commit()

        async def count() -> int:
            return len(received)

        await eventually(count, lambda got: got >= n, timeout=30)
        await asyncio.sleep(1)  # room for a duplicate to show up
        assert sorted(step for _, step in received) == list(range(n)), "each event once"
        assert [step for _, step in received] == list(range(n)), "in commit order"
        sequences = [sequence for sequence, _ in received]
        assert sequences == sorted(sequences)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for broker in brokers:
            await broker.close()
        await connection.close()
        await engine.dispose()
