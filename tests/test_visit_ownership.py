"""A record's visit must be its patient's (issue 10, item 3).

Without this check a prescription for patient A on patient B's visit was dispensed and billed
to B. Every write naming a patient and a visit is refused (422) unless registration said the
visit is that patient's, and every consumer refuses such an event into its dead-letter queue.
"""

from __future__ import annotations

import json
import uuid

import httpx

from tests.support.journey import Journey
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually


async def two_patients(stack: Stack, http: httpx.AsyncClient) -> tuple[Journey, Journey]:
    urls = {s: stack.url(s) for s in stack.processes}
    a, b = Journey(http, urls), Journey(http, urls)
    await a.register()
    await b.register()
    # Both are known to the departments once triage has placed them.
    await a.assignment("triage", "nurse_sarah")
    await b.assignment("triage", "nurse_sarah")
    return a, b


async def clinical_orders(stack: Stack, patient_id: str) -> int:
    db = await stack.connect_db("clinical")
    try:
        return await db.fetchval(
            "select (select count(*) from prescriptions where patient_id = $1)"
            " + (select count(*) from diagnoses where patient_id = $1)",
            patient_id,
        )
    finally:
        await db.close()


async def test_writes_naming_another_patients_visit_are_refused(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    a, b = await two_patients(stack, http)
    clinical = stack.url("clinical")
    await eventually(
        lambda: http.get(f"{clinical}/assignments?visitId={b.visit_id}", headers=auth("dr_smith")),
        lambda r: r.status_code == 200,
    )
    prescription = await http.post(
        f"{clinical}/patients/{a.patient_id}/prescriptions",
        json={
            "medicationName": "Aspirin",
            "dosage": "325mg",
            "frequency": "Once daily",
            "duration": "30 days",
            "visitId": b.visit_id,
        },
        headers=auth("dr_smith"),
    )
    assert prescription.status_code == 422, prescription.text
    assert prescription.json()["errors"][0]["field"] == "visitId"
    assert "not a visit of patient" in prescription.json()["detail"]

    diagnosis = await http.post(
        f"{clinical}/patients/{a.patient_id}/diagnoses",
        json={"diagnosisCode": "I21.9", "visitId": "visit_does_not_exist"},
        headers=auth("dr_smith"),
    )
    assert diagnosis.status_code == 422, diagnosis.text
    assert diagnosis.json()["errors"][0]["field"] == "visitId"
    assert await clinical_orders(stack, a.patient_id) == 0

    appointment = await http.post(
        f"{stack.url('registration')}/appointments",
        json={
            "patientId": a.patient_id,
            "appointmentDate": "2030-01-15",
            "visitId": b.visit_id,
        },
        headers=auth("alice_receptionist"),
    )
    assert appointment.status_code == 422, appointment.text
    assert appointment.json()["errors"][0]["field"] == "visitId"

    assignment = await http.post(
        f"{stack.url('triage')}/assignments",
        json={"patientId": a.patient_id, "visitId": b.visit_id},
        headers=auth("alice_receptionist"),
    )
    assert assignment.status_code == 422, assignment.text
    assert assignment.json()["errors"][0]["field"] == "visitId"
    # B's assignment is untouched.
    mine = await b.assignment("triage", "nurse_sarah")
    assert mine["patientId"] == b.patient_id


async def test_an_event_pairing_a_patient_with_another_patients_visit_is_dead_lettered(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    a, b = await two_patients(stack, http)
    pharmacy_db = await stack.connect_db("pharmacy")
    try:
        await eventually(
            lambda: pharmacy_db.fetchval(
                "select count(*) from patient_visits where visit_id = $1", b.visit_id
            )
        )
        prescription_id = f"prescription_{uuid.uuid4().hex[:20]}"
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/services/clinical",
            "type": "prescription.created.v1",
            "subject": a.patient_id,
            "visitid": b.visit_id,
            "data": {
                "prescriptionId": prescription_id,
                "patientId": a.patient_id,
                "visitId": b.visit_id,
                "medicationName": "Morphine",
                "dosage": "10mg",
                "frequency": "Once",
                "duration": "1 day",
                "prescribedBy": "dr_smith",
            },
        }
        await stack.publish_raw("clinical", "prescription.created", json.dumps(event).encode())

        async def refused() -> list[tuple[bytes, dict]]:
            return [
                (body, headers)
                for body, headers in await stack.dead_letters("pharmacy.inbox")
                if event["id"].encode() in body  # other tests leave garbage there too
            ]

        dead = await eventually(refused, timeout=20)
        assert "not a visit of patient" in dead[0][1]["x-kliniki-error"]
        assert (
            await pharmacy_db.fetchval(
                "select count(*) from prescriptions where id = $1", prescription_id
            )
            == 0
        )
    finally:
        await pharmacy_db.close()
