"""A consumer replica for the partitioning tests: the kernel's EventConsumer, recording order.

Run as a process (``python -m tests.support.order_consumer``) with the KLINIKI_* settings of a
service named ``ordertest`` (its own database, created with :func:`order_metadata`);
``ORDER_REPLICA`` names the replica and ``ORDER_HANDLE_MS`` is how long each event takes.

Each event of ``ordersource`` carries ``data.n``, its number in its patient's (the subject's)
sequence. The handler records, in the event's own transaction, that number, the highest one
already applied for the patient, who applied it and when: events applied in order always see
the previous number, and an event applied twice would leave two rows. An event with
``data.failOnce`` fails the first time this replica handles it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
)

from kliniki.consumer import EventConsumer, Subscription
from kliniki.db import service_metadata
from kliniki.events import CloudEvent
from kliniki.kernel import Kernel
from kliniki.logs import configure_logging
from kliniki.settings import ServiceSettings
from kliniki.uow import UnitOfWork

SOURCE = "ordersource"
CONSUMER = "ordertest"
PURPOSE = "orders"


def order_metadata() -> MetaData:
    metadata = service_metadata(staff_directory=False)
    Table(
        "applied",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False),
        Column("patient", Text, nullable=False),
        Column("n", Integer, nullable=False),
        Column("previous_n", Integer),
        Column("replica", Text, nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("finished_at", DateTime(timezone=True), nullable=False),
    )
    return metadata


async def main() -> None:
    settings = ServiceSettings()
    configure_logging(settings)
    metadata = order_metadata()
    kernel = Kernel.build(settings, metadata)
    applied = metadata.tables["applied"]
    replica = os.environ["ORDER_REPLICA"]
    handle_seconds = float(os.environ.get("ORDER_HANDLE_MS", "20")) / 1000

    failed: set[str] = set()

    async def record(uow: UnitOfWork, event: CloudEvent) -> None:
        if event.data.get("failOnce") and event.id not in failed:
            failed.add(event.id)
            raise RuntimeError("failing once, as asked")  # retried after the first delay
        started = dt.datetime.now(dt.UTC)
        previous = await uow.session.scalar(
            select(func.max(applied.c.n)).where(applied.c.patient == event.subject)
        )
        await asyncio.sleep(handle_seconds)  # the work; a second handler of the patient would
        await uow.session.execute(  # run in this gap and see the same "previous"
            insert(applied).values(
                event_id=event.id,
                patient=event.subject,
                n=event.data["n"],
                previous_n=previous,
                replica=replica,
                started_at=started,
                finished_at=dt.datetime.now(dt.UTC),
            )
        )

    consumer = EventConsumer(
        settings,
        kernel.sessionmaker,
        kernel.tables,
        kernel.broker,
        PURPOSE,
        [Subscription(SOURCE, "#", record)],
    )
    broker = asyncio.create_task(kernel.broker.run())
    consuming = asyncio.create_task(consumer.run())
    # SIGTERM stops like a service does (uvicorn's shutdown cancels the consumer's task).
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, consuming.cancel)
    try:
        await consuming
    except asyncio.CancelledError:
        pass
    finally:
        broker.cancel()
        await kernel.broker.close()


if __name__ == "__main__":
    asyncio.run(main())
