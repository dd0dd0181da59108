"""Triage intake with 1, 2 and 4 replicas sharing K=8 partitions, PostgreSQL 5 ms away.

PostgreSQL sits behind a proxy adding 5 ms each way (bench/latency_proxy.py: a managed database
in another zone). For each replica count: a fresh triage database and broker names, the
replicas started as processes and given time to share the partitions, then 1,000
``patient.registered`` events published at once, each fourth visit followed by its
cancellation at the desk (``visit.updated``, CANCELLED). Printed: events per second until all
are applied, against one replica in the same run. Then a run with 4 replicas where one is killed
with SIGKILL mid-run, and one replica allowed 16 events at once. Beside each rate, how many of
the machine's cores were busy meanwhile (everything: replicas, PostgreSQL, the proxy, the
broker). A replica handles up to ``KLINIKI_CONSUMER_CONCURRENCY`` (8 by default) events at once
over its partitions, so with the database far away one replica is bound by round trips and
each replica added brings its 8 more, until the cores are all busy.

Checked after every run, from triage's own tables: every event is in the inbox once (none
twice, none lost); every visit has exactly one assignment; a cancelled visit's assignment is
CANCELLED and the others' ACTIVE (a cancellation applied before its registration would leave
the assignment ACTIVE), and its cancellation was handled after its registration.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kliniki.contracts.registration import PatientRegistered, VisitData
from kliniki.events import PARTITION_KEY_HEADER, CloudEvent
from tests.support.stack import (
    MAX_PARTITIONS,
    ServiceProcess,
    Stack,
    delete_broker_names,
    free_port,
    roll_call,
    servers,
)

VISITS = 1000
CANCEL_EVERY = 4
PARTITIONS = 8
DELAY_MS = 5
REPLICA_COUNTS = (1, 2, 4)
WIDE_CONCURRENCY = 16  # under the 20 connections of its pool


def events() -> list[CloudEvent]:
    """Each visit's registration; each fourth visit's cancellation right behind it."""
    out = []
    now = dt.datetime.now(dt.UTC)
    for i in range(VISITS):
        patient, visit = f"patient_{uuid.uuid4().hex[:16]}", f"visit_{uuid.uuid4().hex[:16]}"
        # Built from registration's contracts, as its outbox would: triage parses them.
        registered = PatientRegistered(
            patient_id=patient,
            visit_id=visit,
            op_number=f"OP{100000 + i}",
            first_name="Bench",
            last_name=f"Patient{i}",
            gender="FEMALE",
            age=30,
            insurance_type="CASH",
            version=1,
            registered_by="alice_receptionist",
            registered_at=now,
        )
        data = registered.model_dump(mode="json", by_alias=True)
        source = "/services/registration"
        out.append(
            CloudEvent(
                source=source,
                type="patient.registered.v1",
                subject=patient,
                visitid=visit,
                data=data,
                sequence=2 * i + 1,
            )
        )
        if i % CANCEL_EVERY == 0:
            cancelled = VisitData(
                visit_id=visit,
                patient_id=patient,
                op_number=registered.op_number,
                first_name=registered.first_name,
                last_name=registered.last_name,
                gender=registered.gender,
                age=registered.age,
                status="CANCELLED",
                payment_type="CASH",
                payment_status="PENDING",
                opened_at=now,
                cancellation_reason="left",
                version=2,
                changed_fields=["status"],
            ).model_dump(mode="json", by_alias=True)
            out.append(
                CloudEvent(
                    source=source,
                    type="visit.updated.v1",
                    subject=patient,
                    visitid=visit,
                    data=cancelled,
                    sequence=2 * i + 2,
                )
            )
    return out


async def publish(amqp_url: str, exchange_name: str, batch: list[CloudEvent]) -> None:
    """As registration's outbox relay publishes them (persistent, confirmed, partition key)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(exchange_name)
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        event.to_json_bytes(),
                        content_type="application/cloudevents+json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=event.id,
                        type=event.type,
                        headers={PARTITION_KEY_HEADER: event.partition_key},
                    ),
                    routing_key=event.routing_key,
                )
                for event in batch
            )
        )
    finally:
        await connection.close()


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection for a run's looks, retried: the server is shared and sometimes full."""
    for _ in range(100):
        try:
            return await asyncpg.connect(dsn)
        except asyncpg.TooManyConnectionsError:
            await asyncio.sleep(0.5)
    return await asyncpg.connect(dsn)


async def check(conn: asyncpg.Connection, consumer: str, batch: list[CloudEvent]) -> list[str]:
    """What went wrong, from triage's tables (empty: every event once, every visit in order)."""
    handled = {
        r["event_id"]: r["handled_at"]
        for r in await conn.fetch(
            "select event_id, handled_at from inbox where consumer = $1", consumer
        )
    }
    assignments: dict[str, list[str]] = {}
    for r in await conn.fetch("select visit_id, status from assignments"):
        assignments.setdefault(r["visit_id"], []).append(r["status"])
    problems = []
    lost = [e.id for e in batch if e.id not in handled]
    if lost:
        problems.append(f"{len(lost)} events never applied")
    registered = {e.visitid or "": e for e in batch if e.routing_key == "patient.registered"}
    cancelled = {e.visitid or "": e for e in batch if e.routing_key == "visit.updated"}
    for visit in registered:
        statuses = assignments.get(visit, [])
        expected = ["CANCELLED"] if visit in cancelled else ["ACTIVE"]
        if statuses != expected:
            problems.append(f"visit {visit}: assignments {statuses}, expected {expected}")
    for visit, cancellation in cancelled.items():
        first, then = handled.get(registered[visit].id), handled.get(cancellation.id)
        if first and then and then < first:
            problems.append(f"visit {visit}: cancellation handled before registration")
    return problems


async def measure(
    amqp_url: str, dsn: str, namespace: str, procs: list[ServiceProcess], kill_one: bool
) -> tuple[float, Cores]:
    """Publish the batch, wait until triage applied it all, check; events per second and the
    machine's cores busy meanwhile (replicas, PostgreSQL, the proxy, the broker: everything)."""
    consumer = f"{namespace}triage.inbox"
    batch = events()
    conn = await connect(dsn)
    try:
        started, (busy_before, total_before, proxy_before) = time.perf_counter(), busy_jiffies()
        await publish(amqp_url, f"{namespace}registration.events", batch)
        killed = False
        deadline = time.monotonic() + 900
        count = "select count(*) from inbox where consumer = $1"
        while (done := await conn.fetchval(count, consumer)) < len(batch):
            if kill_one and not killed and done > len(batch) // 3:
                procs[-1].process.kill()  # SIGKILL: no goodbye, its partitions move
                killed = True
                print(f"  killed one replica with SIGKILL after {done} events", flush=True)
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {done} of {len(batch)} events applied")
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        busy_after, total_after, proxy_after = busy_jiffies()
        share = (os.cpu_count() or 1) / (total_after - total_before)
        cores = share * (busy_after - busy_before), share * (proxy_after - proxy_before)
        await asyncio.sleep(1)  # anything applied twice would show now
        problems = await check(conn, consumer, batch)
    finally:
        await conn.close()
    if problems:
        raise AssertionError("; ".join(problems[:5]) + f" ({len(problems)} problems)")
    return len(batch) / elapsed, cores


def busy_jiffies() -> tuple[int, int, int]:
    """The whole machine's busy and total CPU time since boot (``/proc/stat``), and the latency
    proxy's own (it is the bench's, not the system's), in jiffies."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    proxy = Path(f"/proc/{PROXY_PID}/stat").read_text().rpartition(")")[2].split()
    return sum(fields) - idle, sum(fields), int(proxy[11]) + int(proxy[12])  # utime, stime


PROXY_PID = 0  # set by main()
Cores = tuple[float, float]  # busy over the whole machine, of them the latency proxy


def busy(cores: Cores) -> str:
    return f"{cores[0]:.1f} of {os.cpu_count()} cores busy ({cores[1]:.1f} the latency proxy)"


def retried(step: Callable[[], None], attempts: int = 60) -> None:
    """``step``, again while the shared PostgreSQL server is full (too many connections)."""
    for _ in range(attempts - 1):
        try:
            return step()
        except (subprocess.CalledProcessError, asyncpg.TooManyConnectionsError) as exc:
            print(f"  PostgreSQL busy, retrying: {exc.__class__.__name__}", flush=True)
            time.sleep(2)
    return step()


def proxied(postgres_url: str, port: int) -> str:
    parts = urlsplit(postgres_url)
    userinfo = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{port}"))


def run(
    pg_url: str,
    amqp_url: str,
    proxy_url: str,
    replicas: int,
    kill_one: bool = False,
    partitions: int = PARTITIONS,
    concurrency: int | None = None,
) -> tuple[float, Cores]:
    """Events per second for ``replicas`` triage replicas and the cores busy meanwhile;
    raises if any check fails."""
    stack = Stack(pg_url, amqp_url)
    try:
        retried(lambda: stack.migrate(["triage"]))
        procs = [
            stack.start(
                "triage",
                name=f"triage-{i}",
                KLINIKI_POSTGRES_URL=proxy_url,
                KLINIKI_CONSUMER_PARTITIONS=str(partitions),
                **(
                    {"KLINIKI_CONSUMER_CONCURRENCY": str(concurrency)}
                    if concurrency is not None
                    else {}
                ),
                KLINIKI_LOG_LEVEL="WARNING",
            )
            for i in range(replicas)
        ]
        for proc in procs:
            stack.wait_ready(proc, timeout=180)
        queue = f"{stack.namespace}triage.inbox"
        deadline = time.monotonic() + 60
        while asyncio.run(roll_call(amqp_url, f"{queue}.replicas")) < replicas:
            if time.monotonic() > deadline:
                raise TimeoutError("the replicas did not all answer the roll call")
            time.sleep(0.2)
        time.sleep(3)  # a few balancing periods: the first one up holds every partition
        dsn = f"{pg_url.rstrip('/')}/{stack.database('triage')}"
        return asyncio.run(measure(amqp_url, dsn, stack.namespace, procs, kill_one))
    finally:
        stack.stop_all()
        retried(stack.cleanup)
        if partitions > MAX_PARTITIONS:  # the partitions the stack's cleanup does not know
            asyncio.run(delete_broker_names(amqp_url, stack.namespace, partitions))


def main() -> None:
    with servers() as (pg_url, amqp_url):
        host = urlsplit(pg_url).hostname or "127.0.0.1"
        port = urlsplit(pg_url).port or 5432
        proxy_port = free_port()
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("latency_proxy.py")),
                str(proxy_port),
                host,
                str(port),
                str(DELAY_MS),
            ],
            env=os.environ,
        )
        global PROXY_PID
        PROXY_PID = proxy.pid
        try:
            proxy_url = proxied(pg_url, proxy_port)
            rates = {}
            for replicas in REPLICA_COUNTS:
                rates[replicas], cores = run(pg_url, amqp_url, proxy_url, replicas)
                print(
                    f"{replicas} replica(s), K={PARTITIONS}, PostgreSQL +{DELAY_MS} ms each way: "
                    f"{rates[replicas]:.0f} events/s ({rates[replicas] / rates[1]:.2f}x one "
                    f"replica), {busy(cores)}; every event once, "
                    "every visit in order",
                    flush=True,
                )
            killed, cores = run(pg_url, amqp_url, proxy_url, 4, kill_one=True)
            print(
                f"4 replicas, one killed with SIGKILL mid-run: {killed:.0f} events/s "
                f"({killed / rates[1]:.2f}x one replica), {busy(cores)}; none lost, "
                "none twice, in order",
                flush=True,
            )
            # Replicas multiply the events in flight; one replica can be given more of them
            # too, until its core (or the machine's) is busy.
            wide, cores = run(pg_url, amqp_url, proxy_url, 1, concurrency=WIDE_CONCURRENCY)
            print(
                f"1 replica, K={PARTITIONS}, {WIDE_CONCURRENCY} events at once: {wide:.0f} "
                f"events/s ({wide / rates[1]:.2f}x one replica with the default), "
                f"{busy(cores)}; in order",
                flush=True,
            )
        finally:
            proxy.kill()
            proxy.wait()


if __name__ == "__main__":
    main()
