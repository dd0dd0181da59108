"""Scenario step 3: Dr. Smith diagnoses, prescribes and orders tests; the rules that refuse."""

from __future__ import annotations

from tests.support.journey import Journey
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually


def urls(stack: Stack) -> dict[str, str]:
    return {s: stack.url(s) for s in stack.processes}


async def triaged_patient(stack: Stack, http) -> Journey:
    journey = Journey(http, urls(stack))
    await journey.register()
    await journey.triage("URGENT")
    await journey.complete_assignment("triage", "nurse_sarah")
    await journey.assignment("clinical", "dr_smith")
    return journey


async def test_the_doctor_records_and_sees_the_whole_picture(stack: Stack, http) -> None:
    journey = await triaged_patient(stack, http)
    pid = journey.patient_id
    diagnosis = await journey.call(
        "POST",
        "clinical",
        f"/patients/{pid}/diagnoses",
        "dr_smith",
        201,
        json={
            "diagnosisCode": "I21.9",
            "diagnosisName": "Acute myocardial infarction, unspecified",
            "status": "ACTIVE",
            "notes": "Patient presents with chest pain, elevated troponins expected",
        },
    )
    assert diagnosis["diagnosisCode"] == "I21.9"
    assert diagnosis["visitId"] == journey.visit_id
    without_name = await journey.call(
        "POST",
        "clinical",
        f"/patients/{pid}/diagnoses",
        "dr_smith",
        201,
        json={"diagnosisCode": "r07.4"},
    )
    assert without_name["diagnosisCode"] == "R07.4"
    assert without_name["diagnosisName"] == "Chest pain, unspecified"
    prescription = await journey.call(
        "POST",
        "clinical",
        f"/patients/{pid}/prescriptions",
        "dr_smith",
        201,
        json={
            "medicationName": "Aspirin",
            "dosage": "325mg",
            "frequency": "Once daily",
            "duration": "30 days",
            "instructions": "Take with food to prevent stomach upset",
        },
    )
    lab = await journey.call(
        "POST",
        "clinical",
        f"/patients/{pid}/lab-requests",
        "dr_smith",
        201,
        json={
            "testType": "CARDIAC_ENZYMES",
            "urgency": "URGENT",
            "notes": "Check troponin levels for MI confirmation",
        },
    )
    record = await journey.call("GET", "clinical", f"/patients/{pid}/record", "dr_smith")
    assert record["triage"]["triageCategory"] == "URGENT"
    assert record["triage"]["vitalSigns"]["bloodPressure"]["text"] == "140/90"
    assert [d["diagnosisCode"] for d in record["diagnoses"]] == ["I21.9", "R07.4"]
    assert record["prescriptions"][0]["id"] == prescription["id"]
    assert record["labRequests"][0]["id"] == lab["id"]
    assert record["labRequests"][0]["status"] == "REQUESTED"

    async def visit_status() -> str:
        visit = await journey.call("GET", "registration", f"/visits/{journey.visit_id}", "dr_smith")
        return visit["status"]

    await eventually(visit_status, until=lambda s: s == "IN_CONSULTATION")


async def test_refusals_are_clear_and_change_nothing(stack: Stack, http) -> None:
    journey = await triaged_patient(stack, http)
    base = f"{stack.url('clinical')}/patients/{journey.patient_id}"
    doctor = auth("dr_smith")
    unknown_code = await http.post(
        f"{base}/diagnoses", json={"diagnosisCode": "I99.99"}, headers=doctor
    )
    assert unknown_code.status_code == 422
    assert unknown_code.json()["errors"][0]["field"] == "diagnosisCode"
    unknown_test = await http.post(
        f"{base}/lab-requests", json={"testType": "UNICORN_PANEL"}, headers=doctor
    )
    assert unknown_test.status_code == 422
    assert "CARDIAC_ENZYMES" in unknown_test.json()["detail"]
    missing_dose = await http.post(
        f"{base}/prescriptions",
        json={"medicationName": "Aspirin", "frequency": "daily", "duration": "5 days"},
        headers=doctor,
    )
    assert missing_dose.status_code == 422
    assert "dosage" in missing_dose.json()["detail"]
    nurse = await http.post(
        f"{base}/diagnoses", json={"diagnosisCode": "I21.9"}, headers=auth("nurse_sarah")
    )
    assert nurse.status_code == 403
    cashier = await http.get(f"{base}/record", headers=auth("tom_cashier"))
    assert cashier.status_code == 403
    # No diagnosis yet: the consultation cannot be completed.
    assignment = await journey.assignment("clinical", "dr_smith")
    early = await http.patch(
        f"{stack.url('clinical')}/assignments/{assignment['id']}",
        json={"status": "COMPLETED", "version": assignment["version"]},
        headers=doctor,
    )
    assert early.status_code == 422
    record = await journey.call(
        "GET", "clinical", f"/patients/{journey.patient_id}/record", "dr_smith"
    )
    assert (
        record["diagnoses"] == [] and record["prescriptions"] == [] and record["labRequests"] == []
    )


async def test_a_cancelled_order_cannot_be_cancelled_twice(stack: Stack, http) -> None:
    journey = await triaged_patient(stack, http)
    pid = journey.patient_id
    lab = await journey.call(
        "POST",
        "clinical",
        f"/patients/{pid}/lab-requests",
        "dr_smith",
        201,
        json={"testType": "MALARIA_RDT"},
    )
    cancelled = await journey.call(
        "PATCH",
        "clinical",
        f"/patients/{pid}/lab-requests/{lab['id']}",
        "dr_smith",
        json={
            "status": "CANCELLED",
            "reason": "ordered for the wrong patient",
            "version": lab["version"],
        },
    )
    assert cancelled["status"] == "CANCELLED"
    again = await http.patch(
        f"{stack.url('clinical')}/patients/{pid}/lab-requests/{lab['id']}",
        json={"status": "CANCELLED", "reason": "again", "version": cancelled["version"]},
        headers=auth("dr_smith"),
    )
    assert again.status_code == 409
