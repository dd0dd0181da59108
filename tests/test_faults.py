"""Events survive failure: each test makes its own interruption and undoes it.

- kill -9 of registration while its committed events wait in the outbox;
- the broker connection of registration, triage and the notifier cut for 10 seconds mid-journey;
- PostgreSQL restarted under running registration and triage.

Afterwards every committed event has been delivered, every consumer applied it exactly once,
and the services are ready again without anyone restarting them. The broker is cut with a TCP
proxy the test owns; the database restarted is a PostgreSQL server the test starts. The shared
PostgreSQL and RabbitMQ keep running; every service here has its own databases and its own
broker namespace, so the session's consumers never see these events. Each test prints its
counts: events committed (outbox rows), delivered (published), applied (the consumers' rows)
and duplicates suppressed (the consumers' inboxes, read from their ``/metrics``).
"""

from __future__ import annotations

import asyncio
import time

import aio_pika
import httpx
import pytest

from tests.scenario import another_patient
from tests.support.faults import (
    assignments_per_patient,
    broker_address,
    consumed,
    local_postgres,
    outbox_counts,
    postgres_bin_dir,
    proxied_amqp_url,
    ready,
    register,
    report,
    side_stack,
)
from tests.support.stack import Stack, auth, delete_broker_names, roll_call
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


async def test_kill_9_between_commit_and_publish_loses_and_doubles_nothing(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    services = ["registration", "triage"]
    proxy = await TcpProxy(*broker_address(stack.amqp_url)).start()
    try:
        async with side_stack(
            stack, "kill", services, KLINIKI_AMQP_URL=proxied_amqp_url(stack.amqp_url, proxy.port)
        ) as side:
            registration = await side.start("registration")
            triage = await side.start("triage")
            reg_db = await side.connect_db("registration")
            triage_db = await side.connect_db("triage")
            try:
                # Delivered and applied before the crash.
                early = [(await register(http, registration.url))["id"] for _ in range(5)]
                await eventually(
                    lambda: assignments_per_patient(triage_db, early),
                    until=lambda counts: counts == [1] * len(early),
                    timeout=30,
                )

                # The broker goes away: registrations still commit, their events wait.
                proxy.cut()
                await eventually(lambda: ready(http, registration), until=lambda c: c == 503)
                waiting = await asyncio.gather(
                    *(register(http, registration.url) for _ in range(20))
                )
                waiting_ids = [p["id"] for p in waiting]
                unpublished = await reg_db.fetchval(
                    "select count(*) from outbox where published_at is null"
                    " and envelope->>'subject' = any($1::text[])",
                    waiting_ids,
                )
                assert unpublished == len(waiting), "every committed registration's event waits"
                # The early events were published, but the process is killed before it could
                # mark them: the state a crash between the broker's confirm and the UPDATE leaves.
                await reg_db.execute(
                    "update outbox set published_at = null where envelope->>'subject' = any($1)",
                    early,
                )

                registration.process.kill()  # kill -9: no shutdown, no flush, nothing
                registration.process.wait()
                proxy.restore()
                registration = await side.start("registration")  # the same database

                marker = await register(http, registration.url)
                everyone = early + waiting_ids
                # Triage keeps each patient's events in order, not everyone's (its partitions
                # run side by side): wait for each patient, then check none came twice.
                await eventually(
                    lambda: assignments_per_patient(triage_db, [*everyone, marker["id"]]),
                    until=lambda counts: counts == [1] * (len(everyone) + 1),
                    timeout=60,
                )
                assert await assignments_per_patient(triage_db, everyone) == [1] * len(everyone), (
                    "every committed registration reached triage exactly once"
                )
                committed, delivered = await outbox_counts(reg_db, "patient.registered")
                assert committed == delivered == len(everyone) + 1
                duplicates = await consumed(http, triage, "duplicate")
                # At least the republished ones; the cut may also have lost an ack to triage.
                assert duplicates >= len(early), "the republished events were recognised"
                applied = await triage_db.fetchval(
                    "select count(*) from inbox where event_type like 'patient.registered%'"
                )
                assert applied == committed
                for proc in (registration, triage):
                    await eventually(lambda proc=proc: ready(http, proc), until=lambda c: c == 200)
                report(
                    "kill -9 between commit and publish",
                    events_committed=committed,
                    delivered=delivered,
                    applied=applied,
                    duplicates_suppressed=duplicates,
                )
            finally:
                await reg_db.close()
                await triage_db.close()
    finally:
        await proxy.close()


async def test_broker_cut_for_ten_seconds_mid_journey(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    services = ["registration", "triage", "notifier"]
    proxy = await TcpProxy(*broker_address(stack.amqp_url)).start()
    try:
        async with side_stack(
            stack, "f", services, KLINIKI_AMQP_URL=proxied_amqp_url(stack.amqp_url, proxy.port)
        ) as side:
            procs = {service: await side.start(service) for service in services}
            registration = procs["registration"]
            dbs = {service: await side.connect_db(service) for service in services}
            try:
                patients = list(
                    await asyncio.gather(*(register(http, registration.url) for _ in range(5)))
                )

                proxy.cut()
                noticed: set[str] = set()
                cut_until = time.monotonic() + 10
                while time.monotonic() < cut_until:
                    patients.append(await register(http, registration.url))
                    for service, proc in procs.items():
                        if await ready(http, proc) == 503:
                            noticed.add(service)
                    await asyncio.sleep(0.5)
                proxy.restore()
                assert noticed == set(services), "each service reported the broker missing"

                patients += await asyncio.gather(
                    *(register(http, registration.url) for _ in range(5))
                )
                ids = [p["id"] for p in patients]

                async def announced() -> list[int]:
                    rows = await dbs["notifier"].fetch(
                        "select p.id, count(n.id) as n from unnest($1::text[]) as p(id)"
                        " left join notifications n on n.patient_id = p.id"
                        " and n.event = 'patient_registered' group by p.id",
                        ids,
                    )
                    return [r["n"] for r in rows]

                await eventually(
                    lambda: assignments_per_patient(dbs["triage"], ids),
                    until=lambda counts: counts == [1] * len(ids),
                    timeout=60,
                )
                await eventually(announced, until=lambda c: c == [1] * len(ids), timeout=60)
                # Consumers work in order: once a later patient is through, so were any copies.
                marker = await register(http, registration.url)
                await eventually(
                    lambda: assignments_per_patient(dbs["triage"], [marker["id"]]),
                    until=lambda counts: counts == [1],
                    timeout=30,
                )
                ids.append(marker["id"])
                await eventually(announced, until=lambda c: c == [1] * len(ids), timeout=30)
                assert await assignments_per_patient(dbs["triage"], ids) == [1] * len(ids)

                committed, delivered = await outbox_counts(
                    dbs["registration"], "patient.registered"
                )
                assert committed == delivered == len(ids)
                triage_committed, triage_delivered = await eventually(
                    lambda: outbox_counts(dbs["triage"], "assignment.created"),
                    until=lambda counts: counts[0] == counts[1],
                )
                applied_triage = sum(await assignments_per_patient(dbs["triage"], ids))
                applied_notifier = sum(await announced())
                duplicates = await consumed(http, procs["triage"], "duplicate") + await consumed(
                    http, procs["notifier"], "duplicate"
                )
                for proc in procs.values():
                    await eventually(lambda proc=proc: ready(http, proc), until=lambda c: c == 200)
                # Each consumer answers the replicas' roll call again (it had to subscribe anew
                # after the reconnection), so replicas keep evening out their partitions.
                for queue in ("registration.inbox", "triage.inbox", "notifier.notifications"):
                    await eventually(
                        lambda queue=queue: roll_call(
                            stack.amqp_url, f"{side.namespace}{queue}.replicas"
                        ),
                        until=lambda n: n == 1,
                    )
                report(
                    "broker cut for 10 s mid-journey",
                    events_committed=committed + triage_committed,
                    delivered=delivered + triage_delivered,
                    applied_by_triage=applied_triage,
                    patient_registered_notifications=applied_notifier,
                    duplicates_suppressed=duplicates,
                )
            finally:
                for db in dbs.values():
                    await db.close()
    finally:
        await proxy.close()


async def test_postgres_restart_under_running_services(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    services = ["registration", "triage"]
    with local_postgres(bin_dir) as server:
        async with side_stack(stack, "pg", services, postgres_url=server.url) as side:
            registration = await side.start("registration")
            triage = await side.start("triage")
            pids = {registration.process.pid, triage.process.pid}
            reg_db = await side.connect_db("registration")
            triage_db = await side.connect_db("triage")
            try:
                before = [await register(http, registration.url) for _ in range(5)]
                await eventually(
                    lambda: assignments_per_patient(triage_db, [p["id"] for p in before]),
                    until=lambda counts: counts == [1] * len(before),
                    timeout=30,
                )
                await reg_db.close()
                await triage_db.close()

                # Registrations keep coming (four desks at once) while the database restarts.
                attempts: list[tuple[str, int, str]] = []
                restart = asyncio.create_task(asyncio.to_thread(server.restart))

                async def desk() -> None:
                    while not restart.done():
                        patient = another_patient()
                        try:
                            response = await http.post(
                                f"{registration.url}/patients",
                                json=patient,
                                headers=auth("alice_receptionist"),
                            )
                            answer = (response.status_code, response.text)
                        except httpx.HTTPError as exc:
                            answer = (0, repr(exc))
                        attempts.append((patient["lastName"], *answer))
                        await asyncio.sleep(0.02)

                await asyncio.gather(*(desk() for _ in range(4)))
                await restart
                refused = [(status, body) for _, status, body in attempts if status != 201]
                for status, body in refused:
                    assert status == 503 and "database is unavailable" in body, (status, body)

                for _ in range(5):  # registered after the restart: they count below too
                    await register(http, registration.url)

                reg_db = await side.connect_db("registration")
                triage_db = await side.connect_db("triage")
                # Nothing half-written: a patient exists with its visit and its event, or not.
                incomplete = await reg_db.fetchval(
                    "select count(*) from patients p where not exists"
                    " (select 1 from outbox o where o.routing_key = 'patient.registered'"
                    "  and o.envelope->>'subject' = p.id)"
                    " or not exists (select 1 from visits v where v.patient_id = p.id)"
                )
                assert incomplete == 0
                stored = {
                    r["last_name"] for r in await reg_db.fetch("select last_name from patients")
                }
                for last_name, status, _ in attempts:
                    if status == 201:
                        assert last_name in stored, "an answered registration was kept"

                registered = [
                    r["id"]
                    for r in await reg_db.fetch(
                        "select envelope->>'subject' as id from outbox"
                        " where routing_key = 'patient.registered'"
                    )
                ]
                # Each patient's events in order, not everyone's (triage's partitions run side
                # by side): wait for every patient.
                await eventually(
                    lambda: assignments_per_patient(triage_db, registered),
                    until=lambda counts: counts == [1] * len(registered),
                    timeout=60,
                )
                assert await assignments_per_patient(triage_db, registered) == [1] * len(
                    registered
                ), "every committed registration reached triage exactly once"
                committed, delivered = await eventually(
                    lambda: outbox_counts(reg_db, "patient.registered"),
                    until=lambda counts: counts[0] == counts[1],
                )
                applied = await triage_db.fetchval(
                    "select count(*) from inbox where event_type like 'patient.registered%'"
                )
                assert applied == committed
                for proc in (registration, triage):
                    await eventually(lambda proc=proc: ready(http, proc), until=lambda c: c == 200)
                assert {registration.process.pid, triage.process.pid} == pids
                assert registration.process.poll() is None and triage.process.poll() is None
                report(
                    "PostgreSQL restart",
                    registrations_during_restart=len(attempts),
                    refused_with_503=len(refused),
                    events_committed=committed,
                    delivered=delivered,
                    applied=applied,
                    duplicates_suppressed=await consumed(http, triage, "duplicate"),
                )
            finally:
                await reg_db.close()
                await triage_db.close()


async def test_a_consumer_that_cannot_start_makes_the_service_not_ready_and_says_why(
    stack: Stack,
) -> None:
    """An operator left a queue behind under a partition's name with other arguments (an old
    version's, say): the service answers requests, but its consumer cannot declare its queues.
    /readyz says so, naming the queue and the broker's reason, and is ready again by itself
    once the queue is removed."""
    namespace = f"{stack.namespace}ready."
    in_the_way = f"{namespace}registration.inbox.p0"
    connection = await aio_pika.connect(stack.amqp_url)
    proc = None
    try:
        channel = await connection.channel()
        await channel.declare_queue(in_the_way, durable=True)  # classic: partitions are quorum
        proc = stack.start(
            "registration", name="registration-queue-in-the-way", KLINIKI_BROKER_NAMESPACE=namespace
        )
        await asyncio.to_thread(stack.wait_ready, proc, 120.0, "/healthz")
        async with httpx.AsyncClient(base_url=proc.url) as http:

            async def readiness() -> httpx.Response:
                return await http.get("/readyz")

            answer = await eventually(readiness, lambda r: "PRECONDITION" in r.text, timeout=30)
            assert answer.status_code == 503
            checks = answer.json()["checks"]
            assert checks["database"] == checks["broker"] == "ok"
            assert checks["consumers"].startswith(f"not consuming: {namespace}registration.inbox")

            await channel.queue_delete(in_the_way)
            answer = await eventually(readiness, lambda r: r.status_code == 200, timeout=60)
            assert answer.json()["checks"]["consumers"] == "ok"
    finally:
        if proc is not None:
            proc.stop()
        await connection.close()
        await delete_broker_names(stack.amqp_url, namespace)
