"""Step 5 through HTTP and RabbitMQ: clinical's prescription in, the worklist, dispensing out.

Clinical's ``prescription.created`` is put on ``clinical.events`` by the test itself, so the
pharmacy is tested against the contract of docs/events.md and nothing else.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from kliniki.events import CloudEvent
from tests.support.journey import Journey
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually

SCENARIO_DISPENSING = {
    "status": "DISPENSED",
    "dispensedAt": "2000-01-01T00:00:00Z",
    "dispensedBy": "lisa_pharmacist",
    "dispensingNotes": "Patient counseled on aspirin therapy and MI symptoms",
}


def clinical_event(journey: Journey, routing_key: str, **data: Any) -> CloudEvent:
    return CloudEvent(
        source="/services/clinical",
        type=f"{routing_key}.v1",
        subject=journey.patient_id,
        visitid=journey.visit_id,
        actorid="dr_smith",
        data={"patientId": journey.patient_id, "visitId": journey.visit_id, **data},
    )


def prescription_event(journey: Journey, medication: str = "Aspirin") -> CloudEvent:
    """Clinical's ``prescription.created`` (docs/events.md), as in the scenario."""
    return clinical_event(
        journey,
        "prescription.created",
        prescriptionId=f"prescription_{uuid.uuid4().hex[:12]}",
        medicationName=medication,
        dosage="325mg",
        frequency="Once daily",
        duration="30 days",
        instructions="Take with food to prevent stomach upset",
        priority="URGENT",
        prescribedBy="dr_smith",
        createdAt="2024-01-08T09:31:00+00:00",
    )


async def fetch(stack: Stack, sql: str, *args: Any) -> list[Any]:
    db = await stack.connect_db("pharmacy")
    try:
        return await db.fetch(sql, *args)
    finally:
        await db.close()


async def registered_patient(stack: Stack, http: httpx.AsyncClient) -> Journey:
    """A patient registered at the front desk, once the pharmacy has heard of them."""
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    await eventually(
        lambda: fetch(
            stack, "select 1 from patient_snapshots where patient_id = $1", journey.patient_id
        )
    )
    return journey


async def prescribe(stack: Stack, journey: Journey, medication: str = "Aspirin") -> dict[str, Any]:
    """Clinical prescribes; returns the pharmacy's record once it has arrived."""
    event = prescription_event(journey, medication)
    await stack.publish_raw("clinical", "prescription.created", event.to_json_bytes())
    return await prescription(journey, event.data["prescriptionId"])


async def prescription(journey: Journey, prescription_id: str) -> dict[str, Any]:
    async def probe() -> httpx.Response:
        return await journey.http.get(
            f"{journey.urls['pharmacy']}/prescriptions/{prescription_id}",
            headers=auth("lisa_pharmacist"),
        )

    return (await eventually(probe, lambda r: r.status_code == 200)).json()


async def dispense(
    journey: Journey, prescription_id: str, user: str = "lisa_pharmacist", **body: Any
) -> httpx.Response:
    return await journey.http.patch(
        f"{journey.urls['pharmacy']}/prescriptions/{prescription_id}",
        headers=auth(user),
        json={**SCENARIO_DISPENSING, **body},
    )


async def visit_assignments(journey: Journey, status: str = "ACTIVE") -> list[dict[str, Any]]:
    return await journey.call(
        "GET",
        "pharmacy",
        f"/assignments?visitId={journey.visit_id}&status={status}",
        "lisa_pharmacist",
    )


async def dispensed_events(stack: Stack, patient_id: str) -> list[dict[str, Any]]:
    rows = await fetch(
        stack,
        "select envelope from outbox where routing_key = 'prescription.dispensed'"
        " and envelope->>'subject' = $1",
        patient_id,
    )
    return [json.loads(r["envelope"]) for r in rows]


async def test_a_prescription_is_ready_then_dispensed_with_counselling(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    rx = await prescribe(stack, journey)

    assert rx["status"] == "READY_FOR_DISPENSING"
    assert (rx["medicationName"], rx["dosage"], rx["frequency"], rx["duration"]) == (
        "Aspirin",
        "325mg",
        "Once daily",
        "30 days",
    )
    assert rx["instructions"] == "Take with food to prevent stomach upset"
    assert (rx["patientName"], rx["opNumber"]) == (
        journey.patient["fullName"],
        journey.patient["opNumber"],
    )
    assert (rx["prescribedBy"], rx["priority"], rx["version"]) == ("dr_smith", "URGENT", 1)

    # On the pharmacy worklist; Lisa's explicit routing (the scenario's createAssignment) finds it.
    [assignment] = await visit_assignments(journey)
    assert (assignment["assignmentType"], assignment["priority"]) == ("PHARMACY", "URGENT")
    assert assignment["reason"] == "Aspirin 325mg prescribed by dr_smith"
    routed = await journey.call(
        "POST",
        "pharmacy",
        "/assignments",
        "lisa_pharmacist",
        (200, 201),
        json={
            "patientId": journey.patient_id,
            "assignedToUserId": "lisa_pharmacist",
            "assignmentType": "PHARMACY",
            "priority": "URGENT",
        },
    )
    assert routed["id"] == assignment["id"]

    response = await dispense(journey, rx["id"], version=rx["version"])
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "DISPENSED"
    assert (done["dispensedBy"], done["dispensedByName"]) == ("lisa_pharmacist", "Lisa Mwangi")
    assert done["dispensingNotes"] == "Patient counseled on aspirin therapy and MI symptoms"
    assert done["dispensedAt"] > "2020"  # the server's clock, not the one sent
    assert done["version"] == rx["version"] + 1
    assert done == await prescription(journey, rx["id"])

    # In the same transaction: the event, the worklist done, the audit.
    [event] = await dispensed_events(stack, journey.patient_id)
    assert (event["type"], event["visitid"], event["actorid"]) == (
        "prescription.dispensed.v1",
        journey.visit_id,
        "lisa_pharmacist",
    )
    data = event["data"]
    assert (data["prescriptionId"], data["medicationName"], data["dosage"]) == (
        rx["id"],
        "Aspirin",
        "325mg",
    )
    assert (data["dispensedBy"], data["dispensingNotes"]) == (
        "lisa_pharmacist",
        done["dispensingNotes"],
    )
    assert await visit_assignments(journey) == []
    [completed] = await visit_assignments(journey, "COMPLETED")
    assert completed["id"] == assignment["id"]
    audit = await fetch(
        stack,
        "select action, actor_id from audit_log where resource = 'PRESCRIPTION'"
        " and resource_id = $1 and action <> 'READ' order by id",  # the changes
        rx["id"],
    )
    assert [(a["action"], a["actor_id"]) for a in audit] == [
        ("CREATE", "dr_smith"),
        ("DISPENSE", "lisa_pharmacist"),
    ]


async def test_a_dispensed_prescription_cannot_be_dispensed_again(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    rx = await prescribe(stack, journey)
    first = await dispense(journey, rx["id"], version=rx["version"])
    assert first.status_code == 200
    done = first.json()

    again = await dispense(journey, rx["id"], version=done["version"])
    assert again.status_code == 409, again.text
    problem = again.json()
    assert "already DISPENSED" in problem["detail"]
    assert problem["current"] == done
    assert len(await dispensed_events(stack, journey.patient_id)) == 1


async def test_a_stale_version_gets_409_with_the_current_record(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    rx = await prescribe(stack, journey)
    stale = await dispense(journey, rx["id"], version=rx["version"] - 1)
    assert stale.status_code == 409
    assert stale.json()["current"] == rx
    unversioned = await dispense(journey, rx["id"])
    assert unversioned.status_code == 422
    assert "version" in [e["field"] for e in unversioned.json()["errors"]]
    assert await prescription(journey, rx["id"]) == rx


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dispensedBy": "nurse_sarah"}, "dispensedBy"),  # only your own dispensing
        ({"medicationName": "Clopidogrel"}, "medicationName"),  # the prescriber's fields
        ({"dosage": "75mg"}, "dosage"),
        ({"status": "READY_FOR_DISPENSING"}, "status"),
        ({"dispensingNotes": "x" * 4001}, "dispensingNotes"),
    ],
)
async def test_what_a_pharmacist_may_not_write_gets_422_and_changes_nothing(
    stack: Stack, http: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    journey = await registered_patient(stack, http)
    rx = await prescribe(stack, journey)
    response = await dispense(journey, rx["id"], version=rx["version"], **change)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await prescription(journey, rx["id"]) == rx
    assert await dispensed_events(stack, journey.patient_id) == []


async def test_only_clinical_staff_read_prescriptions_and_only_pharmacists_dispense(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    rx = await prescribe(stack, journey)
    pharmacy = stack.url("pharmacy")
    for user in ("alice_receptionist", "tom_cashier"):
        for path in (f"/prescriptions/{rx['id']}", "/prescriptions"):
            response = await http.get(f"{pharmacy}{path}", headers=auth(user))
            assert response.status_code == 403, (user, path)
    for user in ("alice_receptionist", "tom_cashier", "dr_smith", "mike_lab_tech"):
        response = await dispense(journey, rx["id"], user=user, version=rx["version"])
        assert response.status_code == 403, user
    listed = await http.get(
        f"{pharmacy}/prescriptions?status=READY_FOR_DISPENSING&visitId={journey.visit_id}",
        headers=auth("dr_smith"),
    )
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()] == [rx["id"]]
    assert await prescription(journey, rx["id"]) == rx


async def test_a_redelivered_prescription_creates_nothing_new(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    event = prescription_event(journey)
    rx_id = event.data["prescriptionId"]
    await stack.publish_raw("clinical", "prescription.created", event.to_json_bytes())
    rx = await prescription(journey, rx_id)
    [assignment] = await visit_assignments(journey)

    # The same event again, then the same prescription under a new event id. The queue is
    # handled in order, so once the second is in the inbox the first was handled too.
    await stack.publish_raw("clinical", "prescription.created", event.to_json_bytes())
    again = event.model_copy(update={"id": str(uuid.uuid4())})
    await stack.publish_raw("clinical", "prescription.created", again.to_json_bytes())
    await eventually(lambda: fetch(stack, "select 1 from inbox where event_id = $1", again.id))

    assert len(await fetch(stack, "select 1 from prescriptions where id = $1", rx_id)) == 1
    assert await prescription(journey, rx_id) == rx
    assert await visit_assignments(journey) == [assignment]
    events = await fetch(
        stack,
        "select 1 from outbox where routing_key like 'assignment.%' and envelope->>'visitid' = $1",
        journey.visit_id,
    )
    assert len(events) == 1
    changes = "select 1 from audit_log where resource_id = $1 and action <> 'READ'"
    assert len(await fetch(stack, changes, rx_id)) == 1


async def test_a_cancelled_prescription_is_not_dispensed_and_the_visit_leaves_the_worklist(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    aspirin = await prescribe(stack, journey)
    statin = await prescribe(stack, journey, "Atorvastatin")
    [assignment] = await visit_assignments(journey)
    assert assignment["reason"] == (
        "Aspirin 325mg prescribed by dr_smith; Atorvastatin 325mg prescribed by dr_smith"
    )

    response = await dispense(journey, aspirin["id"], version=aspirin["version"])
    assert response.status_code == 200
    assert len(await visit_assignments(journey)) == 1  # the statin is still to dispense

    cancelled = clinical_event(
        journey,
        "prescription.cancelled",
        prescriptionId=statin["id"],
        cancelledBy="dr_smith",
        reason="Wrong dose",
    )
    await stack.publish_raw("clinical", "prescription.cancelled", cancelled.to_json_bytes())
    record = await eventually(
        lambda: prescription(journey, statin["id"]), lambda r: r["status"] == "CANCELLED"
    )
    assert (record["cancelledBy"], record["cancelReason"]) == ("dr_smith", "Wrong dose")
    # Nothing left to dispense: the assignment completed (something was dispensed).
    assert await visit_assignments(journey) == []
    [done] = await visit_assignments(journey, "COMPLETED")
    assert done["id"] == assignment["id"]

    refused = await dispense(journey, statin["id"], version=record["version"])
    assert refused.status_code == 409
    assert refused.json()["current"]["status"] == "CANCELLED"
