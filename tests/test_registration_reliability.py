"""Registration under load and failure: gap-free OP numbers, the outbox through a broker outage,
redelivered and poisonous events."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx

from tests.scenario import another_patient
from tests.support.stack import Stack, auth
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually


async def register(http: httpx.AsyncClient, base: str, **changes: object) -> dict:
    response = await http.post(
        f"{base}/patients", json=another_patient(**changes), headers=auth("alice_receptionist")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def triage_assignments(stack: Stack, patient_ids: list[str]) -> list[dict]:
    db = await stack.connect_db("triage")
    try:
        rows = await db.fetch(
            "select patient_id, visit_id, assigned_to_user_id from assignments"
            " where patient_id = any($1::text[])",
            patient_ids,
        )
        return [dict(r) for r in rows]
    finally:
        await db.close()


async def test_fifty_concurrent_registrations_get_consecutive_op_numbers(
    stack: Stack, http
) -> None:
    base = stack.url("registration")
    patients = await asyncio.gather(*(register(http, base) for _ in range(50)))
    numbers = sorted(int(p["opNumber"].removeprefix("OP")) for p in patients)
    assert numbers == list(range(numbers[0], numbers[0] + 50)), "OP numbers must be gap-free"
    ids = [p["id"] for p in patients]

    db = await stack.connect_db("registration")
    try:
        published = await eventually(
            lambda: db.fetchval(
                "select count(*) from outbox where routing_key = 'patient.registered'"
                " and published_at is not null and envelope->>'subject' = any($1::text[])",
                ids,
            ),
            until=lambda n: n == 50,
        )
        assert published == 50
    finally:
        await db.close()
    assignments = await eventually(
        lambda: triage_assignments(stack, ids), until=lambda a: len(a) >= 50
    )
    assert sorted(a["patient_id"] for a in assignments) == sorted(ids), "one assignment each"


async def test_registration_answers_through_a_broker_outage_and_the_event_arrives_once(
    stack: Stack, http
) -> None:
    amqp = urlsplit(stack.amqp_url)
    proxy = await TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672).start()
    database = f"{stack.database('registration')}_faults"
    proxied_url = stack.amqp_url.replace(
        f"{amqp.hostname}:{amqp.port or 5672}", f"127.0.0.1:{proxy.port}"
    )
    if f":{amqp.port}" not in stack.amqp_url:
        proxied_url = stack.amqp_url.replace(str(amqp.hostname), f"127.0.0.1:{proxy.port}", 1)
    env = {"KLINIKI_DATABASE_NAME": database, "KLINIKI_AMQP_URL": proxied_url}
    await asyncio.to_thread(stack.migrate, ["registration"], **env)
    proc = stack.start("registration", name="registration-behind-proxy", **env)
    try:
        await asyncio.to_thread(stack.wait_ready, proc)
        proxy.cut()

        async def readiness() -> int:
            return (await http.get(f"{proc.url}/readyz")).status_code

        await eventually(readiness, until=lambda code: code == 503)
        patient = await register(http, proc.url)  # still 201 with the broker away
        db = await stack.connect_db("registration", database)
        try:
            await asyncio.sleep(1.0)
            unpublished = await db.fetchval(
                "select count(*) from outbox"
                " where published_at is null and envelope->>'subject' = $1",
                patient["id"],
            )
            assert unpublished == 1, "the event waits in the outbox"
            assert await triage_assignments(stack, [patient["id"]]) == []

            proxy.restore()
            assignments = await eventually(
                lambda: triage_assignments(stack, [patient["id"]]), timeout=30
            )
            await asyncio.sleep(1.0)  # room for a duplicate to show up, if there were one
            assert len(await triage_assignments(stack, [patient["id"]])) == 1
            assert assignments[0]["visit_id"] == patient["visit"]["id"]
            row = await db.fetchrow(
                "select published_at, attempts from outbox where envelope->>'subject' = $1",
                patient["id"],
            )
            assert row["published_at"] is not None
        finally:
            await db.close()
        await eventually(readiness, until=lambda code: code == 200)
    finally:
        proc.stop()
        await proxy.close()


async def test_a_redelivered_patient_registered_changes_nothing(stack: Stack, http) -> None:
    base = stack.url("registration")
    patient = await register(http, base)
    await eventually(lambda: triage_assignments(stack, [patient["id"]]))
    db = await stack.connect_db("registration")
    try:
        envelope = await db.fetchval(
            "select envelope::text from outbox where envelope->>'subject' = $1", patient["id"]
        )
    finally:
        await db.close()
    original = json.loads(envelope)
    for _ in range(3):
        await stack.publish_raw("registration", "patient.registered", envelope.encode())
    # Consumers work in order: once a later registration is handled, so were the copies.
    marker = await register(http, base)
    await eventually(lambda: triage_assignments(stack, [marker["id"]]))
    assert len(await triage_assignments(stack, [patient["id"]])) == 1

    notifier = await stack.connect_db("notifier")
    try:

        async def announced(patient_id: str) -> int:
            return await notifier.fetchval(
                "select count(*) from notifications where event = 'patient_registered'"
                " and patient_id = $1",
                patient_id,
            )

        await eventually(lambda: announced(marker["id"]), until=lambda n: n == 1)
        assert await announced(patient["id"]) == 1
        handled = await notifier.fetchval(
            "select count(*) from inbox where event_id = $1", original["id"]
        )
        assert handled == 1
    finally:
        await notifier.close()


async def test_poison_messages_are_dead_lettered_with_the_reason_and_the_queue_flows(
    stack: Stack, http
) -> None:
    await stack.publish_raw("registration", "patient.registered", b"\x00 this is not json")
    not_a_patient = {
        "specversion": "1.0",
        "id": "poison-event-1",
        "source": "/services/registration",
        "type": "patient.registered.v1",
        "subject": "patient_missing",
        "data": {"patientId": "patient_missing"},  # no visit, no names: not a patient
    }
    await stack.publish_raw(
        "registration", "patient.registered", json.dumps(not_a_patient).encode()
    )
    patient = await register(http, stack.url("registration"))
    await eventually(lambda: triage_assignments(stack, [patient["id"]]))

    letters = await eventually(
        lambda: stack.dead_letters("triage.inbox"), until=lambda found: len(found) >= 1, timeout=20
    )
    collected = list(letters)
    collected += await eventually(
        lambda: stack.dead_letters("triage.inbox"),
        until=lambda found: len(collected) + len(found) >= 2,
        timeout=20,
    )
    reasons = {body[:20]: headers["x-kliniki-error"] for body, headers in collected}
    garbage = next(r for b, r in reasons.items() if b.startswith(b"\x00"))
    assert "not a valid CloudEvent" in garbage
    failing = next(headers for body, headers in collected if b"poison-event-1" in body)
    # Data that does not fit the contract is refused at once, naming what is missing
    # (retrying would not change it; a handler's failure is retried: test_consumer_partitions).
    assert "data is not a PatientRegistered" in failing["x-kliniki-error"]
    assert "opNumber" in failing["x-kliniki-error"] and "visitId" in failing["x-kliniki-error"]
    assert failing["x-kliniki-attempt"] == 0, "not retried"
