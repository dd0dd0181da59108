"""Registration's API refuses what it must, and never half-writes."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
import pytest

from tests.scenario import another_patient
from tests.support.journey import Journey
from tests.support.stack import Stack, auth, signed_token
from tests.support.waiting import eventually


async def patient_count(stack: Stack) -> int:
    db = await stack.connect_db("registration")
    try:
        return await db.fetchval("select count(*) from patients")
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phoneNumber": "0712-CALL-ME"}, "phoneNumber"),
        ({"phoneNumber": "+2547"}, "phoneNumber"),
        ({"firstName": None}, "firstName"),
        ({"lastName": "   "}, "lastName"),
        ({"insuranceType": "GOLD_CARD"}, "insuranceType"),
        ({"gender": "X"}, "gender"),
        ({"age": 250}, "age"),
        ({"age": None}, "body"),
        ({"dateOfBirth": "2999-01-01", "age": None}, "dateOfBirth"),
        ({"nickname": "JD"}, "nickname"),
    ],
)
async def test_bad_input_gets_422_naming_the_field_and_writes_nothing(
    stack: Stack, http, change: dict, field: str
) -> None:
    before = await patient_count(stack)
    payload = {k: v for k, v in {**another_patient(), **change}.items() if v is not None}
    if change.get("firstName", "") is None:
        payload.pop("firstName", None)
    response = await http.post(
        f"{stack.url('registration')}/patients", json=payload, headers=auth("alice_receptionist")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]
    assert await patient_count(stack) == before


async def test_local_kenyan_phone_numbers_are_stored_in_e164(stack: Stack, http) -> None:
    response = await http.post(
        f"{stack.url('registration')}/patients",
        json=another_patient(phoneNumber="0712 345 678"),
        headers=auth("alice_receptionist"),
    )
    assert response.status_code == 201
    assert response.json()["phoneNumber"] == "+254712345678"


def forged(**claims: object) -> str:
    now = dt.datetime.now(dt.UTC)
    base = {
        "sub": "alice_receptionist",
        "name": "Alice",
        "roles": ["receptionist"],
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
    }
    return signed_token({**base, **claims})


async def test_requests_without_a_valid_token_get_401(stack: Stack, http) -> None:
    url = f"{stack.url('registration')}/patients"
    expired = forged(exp=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    other_key = jwt.encode(
        {
            "sub": "alice_receptionist",
            "roles": ["receptionist"],
            "exp": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        },
        "a-different-signing-key-of-32-bytes!!",
        algorithm="HS256",
    )
    unsigned = jwt.encode(
        {
            "sub": "alice_receptionist",
            "roles": ["admin"],
            "exp": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        },
        None,
        algorithm="none",
    )
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWxpY2U6eA=="},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {other_key}"},
        {"Authorization": f"Bearer {unsigned}"},
    ):
        response = await http.post(url, json=another_patient(), headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["title"] == "Unauthorized"


async def test_roles_are_checked(stack: Stack, http) -> None:
    # A cashier cannot register patients.
    response = await http.post(
        f"{stack.url('registration')}/patients", json=another_patient(), headers=auth("tom_cashier")
    )
    assert response.status_code == 403
    assert "cashier" in response.json()["detail"]
    # A receptionist cannot update the triage worklist, nor read it.
    patch = await http.patch(
        f"{stack.url('triage')}/assignments/assignment_x",
        json={"status": "COMPLETED", "version": 1},
        headers=auth("alice_receptionist"),
    )
    assert patch.status_code == 403
    read = await http.get(f"{stack.url('triage')}/assignments", headers=auth("alice_receptionist"))
    assert read.status_code == 403


async def test_a_repeated_idempotency_key_returns_the_first_patient(stack: Stack, http) -> None:
    url = f"{stack.url('registration')}/patients"
    key = str(uuid.uuid4())
    headers = {**auth("alice_receptionist"), "Idempotency-Key": key}
    payload = another_patient()
    before = await patient_count(stack)
    first = await http.post(url, json=payload, headers=headers)
    again = await http.post(url, json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert await patient_count(stack) == before + 1
    other = await http.post(url, json=another_patient(), headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]


async def test_concurrent_retries_with_one_key_create_one_patient(stack: Stack, http) -> None:
    import asyncio

    url = f"{stack.url('registration')}/patients"
    headers = {**auth("alice_receptionist"), "Idempotency-Key": str(uuid.uuid4())}
    payload = another_patient()
    before = await patient_count(stack)
    responses = await asyncio.gather(
        *(http.post(url, json=payload, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await patient_count(stack) == before + 1


async def test_a_stale_correction_gets_409_and_the_record_is_intact(stack: Stack, http) -> None:
    base = stack.url("registration")
    created = (
        await http.post(
            f"{base}/patients", json=another_patient(), headers=auth("alice_receptionist")
        )
    ).json()
    url = f"{base}/patients/{created['id']}"
    first = await http.patch(
        url, json={"phoneNumber": "0722000000", "version": 1}, headers=auth("alice_receptionist")
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2
    stale = await http.patch(
        url, json={"firstName": "Jonathan", "version": 1}, headers=auth("alice_receptionist")
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["phoneNumber"] == "+254722000000"
    assert stale.json()["current"]["version"] == 2
    via_header = await http.patch(
        url,
        json={"firstName": "Jonathan"},
        headers={**auth("alice_receptionist"), "If-Match": '"2"'},
    )
    assert via_header.status_code == 200
    record = (await http.get(url, headers=auth("nurse_sarah"))).json()
    assert (record["firstName"], record["phoneNumber"], record["version"]) == (
        "Jonathan",
        "+254722000000",
        3,
    )
    missing = await http.patch(url, json={"firstName": "Jon"}, headers=auth("alice_receptionist"))
    assert missing.status_code == 422
    assert "version" in missing.json()["detail"]


async def test_search_finds_a_patient_by_op_number_phone_and_name(stack: Stack, http) -> None:
    base = stack.url("registration")
    payload = another_patient(phoneNumber="0733111222")
    created = (
        await http.post(f"{base}/patients", json=payload, headers=auth("alice_receptionist"))
    ).json()
    for q in (
        created["opNumber"],
        f"OP#{created['opNumber'][2:]}",
        "+254733111222",
        payload["lastName"],
        f"john {payload['lastName'].lower()}",
    ):
        found = await http.get(
            f"{base}/patients", params={"q": q}, headers=auth("alice_receptionist")
        )
        assert found.status_code == 200
        assert created["id"] in [p["id"] for p in found.json()], q


async def test_the_desk_cannot_set_what_the_departments_decide(stack: Stack, http) -> None:
    """Issue 10 item 2: a cashier cannot mark an unpaid visit paid and completed."""
    base = stack.url("registration")
    created = (
        await http.post(
            f"{base}/patients", json=another_patient(), headers=auth("alice_receptionist")
        )
    ).json()
    visit = created["visit"]
    forged = await http.patch(
        f"{base}/visits/{visit['id']}",
        json={
            "status": "COMPLETED",
            "paymentStatus": "PAID",
            "totalAmount": 0.01,
            "completedAt": "2020-01-01T00:00:00Z",
            "dischargeNotes": "...",
            "version": visit["version"],
        },
        headers=auth("tom_cashier"),
    )
    assert forged.status_code == 422, forged.text
    refused = {e["field"] for e in forged.json()["errors"]}
    assert refused == {"status", "paymentStatus", "totalAmount", "completedAt"}
    now = (await http.get(f"{base}/visits/{visit['id']}", headers=auth("tom_cashier"))).json()
    assert (now["status"], now["paymentStatus"], now["totalAmount"], now["completedAt"]) == (
        "REGISTERED",
        "UNPAID",
        None,
        None,
    )
    assert now["version"] == visit["version"]


async def test_a_visit_never_moves_backwards_at_the_desk(stack: Stack, http) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    await journey.triage()
    moved = await eventually(
        lambda: journey.call("GET", "registration", f"/visits/{journey.visit_id}", "dr_smith"),
        lambda v: v["status"] == "IN_TRIAGE",
    )
    back = await http.patch(
        f"{stack.url('registration')}/visits/{journey.visit_id}",
        json={"status": "REGISTERED", "version": moved["version"]},
        headers=auth("alice_receptionist"),
    )
    assert back.status_code == 422, back.text
    assert back.json()["errors"][0]["field"] == "status"
    late_cancel = await http.patch(
        f"{stack.url('registration')}/visits/{journey.visit_id}",
        json={
            "status": "CANCELLED",
            "cancellationReason": "Patient left",
            "version": moved["version"],
        },
        headers=auth("alice_receptionist"),
    )
    assert late_cancel.status_code == 422
    assert "has not started" in late_cancel.text
    still = await journey.call("GET", "registration", f"/visits/{journey.visit_id}", "dr_smith")
    assert still["status"] == "IN_TRIAGE"


async def test_the_desk_cancels_a_visit_that_has_not_started_with_a_reason(
    stack: Stack, http
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    base = stack.url("registration")
    queued = await journey.assignment("triage", "nurse_sarah")
    visit = journey.patient["visit"]
    no_reason = await http.patch(
        f"{base}/visits/{visit['id']}",
        json={"status": "CANCELLED", "version": visit["version"]},
        headers=auth("alice_receptionist"),
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "cancellationReason"
    cancelled = await http.patch(
        f"{base}/visits/{visit['id']}",
        json={
            "status": "CANCELLED",
            "cancellationReason": "Patient left before triage",
            "version": visit["version"],
        },
        headers=auth("alice_receptionist"),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["cancellationReason"] == "Patient left before triage"

    # The patient leaves Sarah's worklist.
    async def triage_status() -> str:
        found = await journey.call(
            "GET", "triage", f"/assignments?visitId={visit['id']}&status=CANCELLED", "nurse_sarah"
        )
        return found[0]["status"] if found else ""

    await eventually(triage_status, lambda s: s == "CANCELLED")
    active = await journey.call(
        "GET", "triage", f"/assignments?visitId={visit['id']}", "nurse_sarah"
    )
    assert queued["id"] not in [a["id"] for a in active]
    # A cancelled visit stays as it is.
    again = await http.patch(
        f"{base}/visits/{visit['id']}",
        json={"dischargeNotes": "x", "version": cancelled.json()["version"]},
        headers=auth("alice_receptionist"),
    )
    assert again.status_code == 422
