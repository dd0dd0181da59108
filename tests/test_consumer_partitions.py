"""Consumer replicas share a purpose's partitions and keep each patient's events in order.

Real RabbitMQ and PostgreSQL; each replica is a process running the kernel's EventConsumer
(tests/support/order_consumer.py), fed by the kernel's outbox relay. Every event records the
number of its patient's previous event it saw applied, so "in order" is checked event by event;
a second application of an event would leave a second row; a lost one, a missing row.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from kliniki.broker import Broker
from kliniki.db import kernel_tables
from kliniki.events import CloudEvent
from kliniki.outbox import OutboxRelay, stage_events
from kliniki.settings import ServiceSettings
from tests.support.order_consumer import CONSUMER, PURPOSE, SOURCE, order_metadata
from tests.support.stack import REPO, delete_broker_names, roll_call, servers
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

PARTITIONS = 4


@dataclass
class Orders:
    """One test's database, namespace, replicas and publisher."""

    postgres_url: str
    amqp_url: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    replicas: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_dir: Path = Path("/tmp/kliniki-test-logs")
    reader: asyncpg.Connection | None = None

    @property
    def namespace(self) -> str:
        return f"p{self.run_id}."

    @property
    def database(self) -> str:
        return f"kliniki_p{self.run_id}_ordertest"

    @property
    def dsn(self) -> str:
        return f"{self.postgres_url.rstrip('/')}/{self.database}"

    def settings(self, service: str) -> ServiceSettings:
        return ServiceSettings(
            service_name=service,
            postgres_url=self.postgres_url,
            database_name=self.database,
            amqp_url=self.amqp_url,
            broker_namespace=self.namespace,
        )

    def start(self, name: str, handle_ms: int = 20, partitions: int = PARTITIONS) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KLINIKI_")}
        env.update(
            KLINIKI_SERVICE_NAME=CONSUMER,
            KLINIKI_POSTGRES_URL=self.postgres_url,
            KLINIKI_DATABASE_NAME=self.database,
            KLINIKI_AMQP_URL=self.amqp_url,
            KLINIKI_BROKER_NAMESPACE=self.namespace,
            KLINIKI_CONSUMER_PARTITIONS=str(partitions),
            KLINIKI_CONSUMER_BALANCE_SECONDS="0.5",
            KLINIKI_CONSUMER_RETRY_DELAYS_MS="[100, 300, 600]",
            KLINIKI_LOG_JSON="false",
            ORDER_REPLICA=name,
            ORDER_HANDLE_MS=str(handle_ms),
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"p{self.run_id}-{name}.log").open("ab")
        self.replicas[name] = subprocess.Popen(
            [sys.executable, "-m", "tests.support.order_consumer"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, name: str, sig: int) -> None:
        process = self.replicas[name]
        process.send_signal(sig)
        process.wait(timeout=20)

    async def replica_count(self) -> int:
        """Replicas answering the roll call (consumers of ``<purpose>.replicas``)."""
        return await roll_call(self.amqp_url, f"{self.namespace}{CONSUMER}.{PURPOSE}.replicas")

    async def wait_for_replicas(self, count: int) -> None:
        await eventually(self.replica_count, until=lambda n: n == count, timeout=60)

    async def publish(self, events: list[CloudEvent]) -> None:
        """Through the kernel's outbox and relay, as a service publishes."""
        settings = self.settings(SOURCE)
        tables = kernel_tables(order_metadata())
        engine = create_async_engine(settings.database_url)
        broker = Broker(settings)
        connecting = asyncio.create_task(broker.run())
        try:
            async with engine.begin() as conn:
                await stage_events(conn, tables, events)  # type: ignore[arg-type]
            relay = OutboxRelay(engine, tables, broker, settings.asyncpg_dsn, 5.0)
            await broker.connected()
            await relay.publish_pending(SOURCE)
        finally:
            connecting.cancel()
            await broker.close()
            await engine.dispose()

    async def applied(self) -> list[asyncpg.Record]:
        if self.reader is None:  # one connection for the test's many looks (a shared server)
            self.reader = await asyncpg.connect(self.dsn)
        return await self.reader.fetch("select * from applied order by id")


@pytest.fixture
async def orders() -> AsyncIterator[Orders]:
    with servers() as (pg_url, amqp_url):
        orders = Orders(pg_url, amqp_url)
        admin = await asyncpg.connect(f"{pg_url.rstrip('/')}/postgres")
        await admin.execute(f'create database "{orders.database}"')
        engine = create_async_engine(orders.settings(CONSUMER).database_url)
        async with engine.begin() as conn:
            await conn.run_sync(order_metadata().create_all)
        await engine.dispose()
        try:
            yield orders
        finally:
            if orders.reader is not None:
                await orders.reader.close()
            for process in orders.replicas.values():
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
            await admin.execute(f'drop database if exists "{orders.database}" with (force)')
            await admin.close()
            await delete_broker_names(amqp_url, orders.namespace)
            connection = await aio_pika.connect(amqp_url)
            with contextlib.suppress(Exception):
                channel = await connection.channel()
                await channel.exchange_delete(f"{orders.namespace}{SOURCE}.events")
            await connection.close()


def visit_events(patients: int, per_patient: int) -> list[CloudEvent]:
    """``per_patient`` events for each patient, interleaved as a busy clinic would send them."""
    ids = [f"patient_{uuid.uuid4().hex[:12]}" for _ in range(patients)]
    return [
        CloudEvent(
            source=f"/services/{SOURCE}",
            type="visit.step.v1",
            subject=patient,
            visitid=f"visit_{patient}",
            data={"n": n},
        )
        for n in range(per_patient)
        for patient in ids
    ]


def assert_each_applied_once_in_order(rows: list[asyncpg.Record], events: list[CloudEvent]):
    by_event = {}
    for row in rows:
        assert row["event_id"] not in by_event, f"applied twice: {row['event_id']}"
        by_event[row["event_id"]] = row
    missing = {e.id for e in events} - set(by_event)
    assert not missing, f"{len(missing)} events never applied"
    out_of_order = [
        (r["patient"], r["n"], r["previous_n"])
        for r in rows
        if r["previous_n"] != (r["n"] - 1 if r["n"] > 0 else None)
    ]
    assert not out_of_order, f"applied out of order (patient, n, previous seen): {out_of_order}"


def overlapping(rows: list[asyncpg.Record], a: str | None = None, b: str | None = None) -> int:
    """Pairs of events of different patients being handled at the same time (by ``a`` and
    ``b`` when named)."""
    count = 0
    for i, x in enumerate(rows):
        for y in rows[i + 1 :]:
            if x["patient"] == y["patient"]:
                continue
            if a and b and {x["replica"], y["replica"]} != {a, b}:
                continue
            if x["started_at"] < y["finished_at"] and y["started_at"] < x["finished_at"]:
                count += 1
    return count


async def wait_until_applied(orders: Orders, count: int, timeout: float = 120) -> list:
    return await eventually(
        orders.applied, until=lambda rows: len(rows) >= count, timeout=timeout, interval=0.2
    )


async def test_two_replicas_apply_each_patients_events_in_order_and_others_in_parallel(
    orders: Orders,
) -> None:
    orders.start("a")
    orders.start("b")
    await orders.wait_for_replicas(2)
    # A few balancing periods: the first one up holds every partition until it hands half on
    # (the work below is done in about a second).
    await asyncio.sleep(2)
    events = visit_events(patients=30, per_patient=6)
    await orders.publish(events)

    rows = await wait_until_applied(orders, len(events))
    await asyncio.sleep(1)  # nothing more arrives (a duplicate would, now)
    rows = await orders.applied()
    assert_each_applied_once_in_order(rows, events)
    by_replica = {r["replica"] for r in rows}
    assert by_replica == {"a", "b"}, "both replicas share the partitions"
    # Different patients at the same time: within each replica (its partitions run
    # concurrently) and across the two.
    assert overlapping([r for r in rows if r["replica"] == "a"]) > 0
    assert overlapping([r for r in rows if r["replica"] == "b"]) > 0
    assert overlapping(rows, "a", "b") > 0
    print(
        f"\n{len(events)} events of 30 patients: a applied "
        f"{sum(r['replica'] == 'a' for r in rows)}, b {sum(r['replica'] == 'b' for r in rows)}"
    )


async def test_within_one_partition_other_patients_are_handled_beside_a_patients_turn(
    orders: Orders,
) -> None:
    # One partition: every patient's events in one queue. A patient's events still take
    # turns; the other patients' do not wait behind them.
    orders.start("a", handle_ms=60, partitions=1)
    await orders.wait_for_replicas(1)
    events = visit_events(patients=12, per_patient=4)
    await orders.publish(events)

    rows = await wait_until_applied(orders, len(events))
    await asyncio.sleep(1)
    rows = await orders.applied()
    assert_each_applied_once_in_order(rows, events)
    assert overlapping(rows) > 0, "other patients' events were handled at the same time"
    same_patient_overlaps = [
        (x["patient"], x["n"], y["n"])
        for i, x in enumerate(rows)
        for y in rows[i + 1 :]
        if x["patient"] == y["patient"]
        and x["started_at"] < y["finished_at"]
        and y["started_at"] < x["finished_at"]
    ]
    assert not same_patient_overlaps, "one patient's events never run at the same time"
    took = max(r["finished_at"] for r in rows) - min(r["started_at"] for r in rows)
    print(f"\n48 events of 12 patients in one partition, 60 ms each: {took.total_seconds():.2f} s")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
async def test_a_stopped_replicas_partitions_move_and_nothing_is_lost_or_applied_twice(
    orders: Orders, how: str
) -> None:
    orders.start("a", handle_ms=40)
    orders.start("b", handle_ms=40)
    await orders.wait_for_replicas(2)
    events = visit_events(patients=40, per_patient=8)
    await orders.publish(events)

    before = await eventually(
        orders.applied,
        until=lambda rows: len({r["replica"] for r in rows}) == 2 and len(rows) > 60,
        timeout=60,
    )
    a_patients = {r["patient"] for r in before if r["replica"] == "a"}
    stopped_at = dt.datetime.now(dt.UTC)
    orders.stop("a", getattr(signal, how))

    # b takes over a's partitions: a's patients go on, now applied by b.
    rows = await wait_until_applied(orders, len(events))
    await asyncio.sleep(1)
    rows = await orders.applied()
    assert_each_applied_once_in_order(rows, events)
    taken_over = [
        r["started_at"]
        for r in rows
        if r["patient"] in a_patients and r["replica"] == "b" and r["started_at"] > stopped_at
    ]
    assert taken_over, "b went on with a's patients"
    moved_after = (min(taken_over) - stopped_at).total_seconds()
    print(f"\n{how}: b started on a's patients {moved_after:.2f} s after the signal")


async def test_a_replica_that_joins_takes_over_its_share_without_breaking_order(
    orders: Orders,
) -> None:
    # Work for about 12 s on a alone (4 partitions at a time), longer than b takes to start.
    orders.start("a", handle_ms=100)
    await orders.wait_for_replicas(1)
    events = visit_events(patients=48, per_patient=10)
    await orders.publish(events)
    await eventually(orders.applied, until=lambda rows: len(rows) > 20, timeout=60)
    joined_at = dt.datetime.now(dt.UTC)
    orders.start("b", handle_ms=100)  # a holds every partition: it hands half of them on

    rows = await wait_until_applied(orders, len(events))
    await asyncio.sleep(1)
    rows = await orders.applied()
    assert_each_applied_once_in_order(rows, events)
    after = [r for r in rows if r["started_at"] > joined_at]
    assert {r["replica"] for r in after} == {"a", "b"}, "b took over part of the work"
    assert overlapping(after, "a", "b") > 0


async def test_a_failed_event_is_retried_in_its_partition_and_applied_once(orders: Orders) -> None:
    orders.start("a")
    await orders.wait_for_replicas(1)
    events = visit_events(patients=8, per_patient=3)
    failing = events[0]  # the first patient's first event
    failing.data["failOnce"] = True
    await orders.publish(events)

    rows = await wait_until_applied(orders, len(events))
    await asyncio.sleep(1)
    rows = await orders.applied()
    others = [r for r in rows if r["patient"] != failing.subject]
    assert_each_applied_once_in_order(others, [e for e in events if e.subject != failing.subject])
    mine = [r for r in rows if r["patient"] == failing.subject]
    assert sorted(r["n"] for r in mine) == [0, 1, 2], "each of its events once, none lost"
    # The retry came back after its delay (100 ms here) to the tail of its partition: the
    # patient's later events, already queued, went first (as before partitions).
    retried = next(r for r in mine if r["event_id"] == failing.id)
    assert retried["previous_n"] is not None
