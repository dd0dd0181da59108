"""The edge of every service and the outbox behind it (issue 10, items 1, 7, 9, 10 and 11).

A header, a body or a broken event row from one client must never stop patient flow for the
others, and answers that carry patient data must not be cached or run as a page.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid

import httpx

from tests.scenario import another_patient
from tests.support.live import StaffSocket
from tests.support.stack import REPO, Stack, auth, token
from tests.support.waiting import eventually

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def test_an_oversized_request_id_is_replaced_and_the_patient_still_reaches_triage(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    junk = "r" * 6000 + "<script>alert(1)</script>"
    async with StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah:
        response = await http.post(
            f"{stack.url('registration')}/patients",
            json=another_patient(),
            headers={**auth("alice_receptionist"), "X-Request-ID": junk},
        )
        assert response.status_code == 201, response.text
        request_id = response.headers["x-request-id"]
        assert UUID.fullmatch(request_id), request_id
        patient_id = response.json()["id"]
        await sarah.wait_for("new_assignment", lambda d: d["patientId"] == patient_id)

    registration = await stack.connect_db("registration")
    try:
        audit = await registration.fetchval(
            "select request_id from audit_log where resource_id = $1", patient_id
        )
        assert audit == request_id
        correlation = await registration.fetchval(
            "select envelope->>'correlationid' from outbox where envelope->>'subject' = $1"
            " order by id limit 1",
            patient_id,
        )
        assert correlation == request_id
    finally:
        await registration.close()

    # A well-formed id is kept, so a client can follow its request through the logs.
    kept = await http.get(
        f"{stack.url('registration')}/patients/{patient_id}",
        headers={**auth("alice_receptionist"), "X-Request-ID": "desk-3.req:42"},
    )
    assert kept.headers["x-request-id"] == "desk-3.req:42"


async def test_a_row_the_broker_refuses_is_parked_and_the_rows_behind_it_go_on(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    registration = await stack.connect_db("registration")
    bad_id = None
    try:
        # A row written before bounds were checked: its correlation id cannot be an AMQP
        # property (at most 255 bytes), so the broker can never take it as it is.
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/services/registration",
            "type": "test.poisoned.v1",
            "subject": "patient_nobody",
            "data": {},
            "correlationid": "c" * 6000,
        }
        bad_id = await registration.fetchval(
            "insert into outbox (event_id, routing_key, envelope) values ($1, $2, $3) returning id",
            envelope["id"],
            "test.poisoned",
            json.dumps(envelope),
        )
        registered: list[str] = []

        async def parked_after_more_registrations() -> tuple[int, str | None]:
            response = await http.post(
                f"{stack.url('registration')}/patients",
                json=another_patient(),
                headers=auth("alice_receptionist"),
            )
            assert response.status_code == 201, response.text
            registered.append(response.json()["id"])
            row = await registration.fetchrow(
                "select attempts, last_error from outbox where id = $1", bad_id
            )
            return row["attempts"], row["last_error"]

        attempts, last_error = await eventually(
            parked_after_more_registrations, lambda r: r[0] >= 5, timeout=60, interval=0.3
        )
        assert attempts == 5, "parked rows are not tried again"
        assert last_error and "correlationid" in last_error

        # Every registration behind the bad row reached triage's worklist.
        triage = await stack.connect_db("triage")
        try:

            async def placed() -> int:
                return await triage.fetchval(
                    "select count(*) from assignments where patient_id = any($1::text[])",
                    registered,
                )

            await eventually(placed, lambda n: n == len(registered))
        finally:
            await triage.close()
        unsent = await registration.fetchval(
            "select count(*) from outbox where published_at is null and id <> $1", bad_id
        )
        assert unsent == 0

        # An admin sees the parked row with its error, fixes the cause, and re-sends it.
        listing = await _outbox_admin(stack, "list", "registration")
        assert f"row {bad_id} test.poisoned" in listing.stdout
        assert "1 parked row(s)" in listing.stdout
        await registration.execute(
            "update outbox set envelope = envelope - 'correlationid' where id = $1", bad_id
        )
        await _outbox_admin(stack, "resend", "registration", str(bad_id))

        async def published() -> object:
            return await registration.fetchval(
                "select published_at from outbox where id = $1", bad_id
            )

        await eventually(published)
    finally:
        if bad_id is not None:
            await registration.execute("delete from outbox where id = $1", bad_id)
        await registration.close()


async def _outbox_admin(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """``make outbox-parked`` / ``make outbox-resend`` against this run's databases."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kliniki.outbox_admin", *args],
        env=stack.env("registration"),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )


async def _raw_request(port: int, head: str, chunks: list[bytes]) -> tuple[int, int]:
    """Send ``head`` and as many chunks as the server reads before it answers.

    Returns (status, chunks sent before the answer arrived).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode())
        await writer.drain()
        response = asyncio.ensure_future(reader.readline())
        sent = 0
        for chunk in chunks:
            if response.done():
                break
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            try:
                await asyncio.wait_for(writer.drain(), timeout=5)
            except (ConnectionError, TimeoutError):
                break
            sent += 1
            await asyncio.sleep(0)
        else:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        status_line = await asyncio.wait_for(response, timeout=10)
        return int(status_line.split()[1]), sent
    finally:
        writer.close()


def _chunked_post(path: str, bearer: str | None) -> str:
    authorization = f"Authorization: Bearer {bearer}\r\n" if bearer else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{authorization}\r\n"
    )


async def test_a_chunked_body_past_the_limit_gets_413_without_being_read_whole(
    stack: Stack,
) -> None:
    port = stack.processes["registration"].port
    chunks = [b" " * 65536] * 80  # 5 MB, against a 1 MB limit
    status, sent = await _raw_request(
        port, _chunked_post("/patients", token("alice_receptionist")), chunks
    )
    assert status == 413
    assert sent < len(chunks)


async def test_a_write_without_a_token_gets_401_before_its_body_is_read(stack: Stack) -> None:
    port = stack.processes["registration"].port
    chunks = [b"x" * 65536] * 48  # 3 MB of junk
    status, sent = await _raw_request(port, _chunked_post("/patients", None), chunks)
    assert status == 401
    assert sent < len(chunks)
    status, sent = await _raw_request(port, _chunked_post("/patients", "not-a-jwt"), chunks)
    assert status == 401
    assert sent < len(chunks)


async def test_answers_with_patient_data_are_neither_cached_nor_run_as_a_page(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    created = await http.post(
        f"{stack.url('registration')}/patients",
        json=another_patient(),
        headers=auth("alice_receptionist"),
    )
    patient = await http.get(
        f"{stack.url('registration')}/patients/{created.json()['id']}",
        headers=auth("alice_receptionist"),
    )
    refused = await http.get(f"{stack.url('registration')}/patients/nobody")
    for response in (created, patient, refused):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_too_many_refused_tokens_or_writes_from_one_client_get_429(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    limited = stack.start(
        "registration",
        name="registration-rate-limited",
        KLINIKI_RATE_LIMIT_AUTH_FAILURES="5/minute",
        KLINIKI_RATE_LIMIT_WRITES="3/minute",
    )
    try:
        await asyncio.to_thread(stack.wait_ready, limited)
        bad = {"Authorization": "Bearer not-a-real-token"}
        answers = [
            (await http.get(f"{limited.url}/patients/x", headers=bad)).status_code for _ in range(6)
        ]
        assert answers == [401] * 5 + [429]
        refused = await http.get(f"{limited.url}/patients/x", headers=bad)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["content-type"].startswith("application/problem+json")
        # Colleagues behind the same clinic router, with good tokens, are not locked out.
        assert (
            await http.get(f"{limited.url}/patients/x", headers=auth("alice_receptionist"))
        ).status_code == 404

        writes = [
            (
                await http.post(
                    f"{limited.url}/appointments",
                    json={},
                    headers={
                        **auth("dr_smith"),
                        "X-Forwarded-For": "10.9.9.9",  # not trusted: the limit is per person
                    },
                )
            ).status_code
            for _ in range(4)
        ]
        assert writes[:3] == [422] * 3
        assert writes[3] == 429
    finally:
        limited.stop()
