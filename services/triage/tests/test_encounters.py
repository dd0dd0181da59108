"""Scenario step 2: Sarah records John Doe's triage and hands him to consultation."""

from __future__ import annotations

from tests.support.journey import Journey
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually


def urls(stack: Stack) -> dict[str, str]:
    return {s: stack.url(s) for s in stack.processes}


async def test_vital_signs_are_accepted_as_written_and_answered_in_both_forms(
    stack: Stack, http
) -> None:
    journey = Journey(http, urls(stack))
    await journey.register()
    encounter = await journey.triage()
    vitals = encounter["vitalSigns"]
    assert vitals["bloodPressure"] == {
        "systolic": 140,
        "diastolic": 90,
        "unit": "mmHg",
        "text": "140/90",
    }
    assert vitals["temperature"] == {"value": 38.5, "unit": "°C", "text": "38.5°C"}
    assert vitals["pulse"] == {"value": 95, "unit": "/min", "text": "95/min"}
    assert vitals["respiratoryRate"]["value"] == 20
    assert encounter["triageCategory"] == "URGENT"
    assert encounter["chiefComplaint"] == "Severe chest pain for 2 hours"
    # TEWS: respiratory rate 20 -> 1, temperature 38.5 -> 2: a SATS yellow, i.e. urgent.
    assert encounter["tewsScore"] == 3
    assert encounter["suggestedCategory"] == "URGENT"

    structured = await journey.call(
        "PATCH",
        "triage",
        f"/encounters/{encounter['id']}",
        "nurse_sarah",
        json={
            "vitalSigns": {
                "bloodPressure": {"systolic": 150, "diastolic": 95},
                "oxygenSaturation": {"value": 97, "unit": "%"},
            },
            "version": encounter["version"],
        },
    )
    assert structured["vitalSigns"]["bloodPressure"]["text"] == "150/95"
    assert structured["vitalSigns"]["oxygenSaturation"]["text"] == "97%"
    assert structured["vitalSigns"]["temperature"]["value"] == 38.5  # untouched
    assert structured["version"] == encounter["version"] + 1


async def test_impossible_vital_signs_are_refused_and_nothing_changes(stack: Stack, http) -> None:
    journey = Journey(http, urls(stack))
    await journey.register()
    encounter = await journey.triage()
    for vitals, field in (
        ({"pulse": "900 bpm"}, "vitalSigns.pulse"),
        ({"temperature": "38.5°F"}, "vitalSigns.temperature"),
        ({"bloodPressure": "90/140"}, "vitalSigns.bloodPressure"),
        ({"bloodPressure": "high"}, "vitalSigns.bloodPressure"),
        ({"heartRhythm": "regular"}, "vitalSigns.heartRhythm"),
    ):
        response = await http.patch(
            f"{stack.url('triage')}/encounters/{encounter['id']}",
            json={"vitalSigns": vitals, "version": encounter["version"]},
            headers=auth("nurse_sarah"),
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    bad_category = await http.patch(
        f"{stack.url('triage')}/encounters/{encounter['id']}",
        json={"triageCategory": "PURPLE", "version": encounter["version"]},
        headers=auth("nurse_sarah"),
    )
    assert bad_category.status_code == 422
    now = await journey.call("GET", "triage", f"/encounters/{encounter['id']}", "nurse_sarah")
    assert now["version"] == encounter["version"]
    assert now["vitalSigns"]["pulse"]["value"] == 95


async def test_two_nurses_saving_the_same_version_one_wins_the_other_gets_409(
    stack: Stack, http
) -> None:
    journey = Journey(http, urls(stack))
    await journey.register()
    encounter = await journey.triage()
    url = f"{stack.url('triage')}/encounters/{encounter['id']}"
    first = await http.patch(
        url,
        json={
            "chiefComplaint": "Chest pain radiating to left arm",
            "version": encounter["version"],
        },
        headers=auth("nurse_sarah"),
    )
    second = await http.patch(
        url,
        json={"chiefComplaint": "Headache", "version": encounter["version"]},
        headers=auth("dr_smith"),
    )
    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["current"]["chiefComplaint"] == "Chest pain radiating to left arm"


async def test_completing_triage_hands_the_patient_to_consultation_once(stack: Stack, http) -> None:
    journey = Journey(http, urls(stack))
    await journey.register()
    # Without a category there is nothing to hand over.
    assignment = await journey.assignment("triage", "nurse_sarah")
    refused = await http.patch(
        f"{stack.url('triage')}/assignments/{assignment['id']}",
        json={"status": "COMPLETED", "version": assignment["version"]},
        headers=auth("nurse_sarah"),
    )
    assert refused.status_code == 422
    assert "triage category" in refused.json()["detail"]

    await journey.triage("URGENT")
    await journey.complete_assignment("triage", "nurse_sarah")
    consultation = await journey.assignment("clinical", "dr_smith")
    assert consultation["priority"] == "URGENT"
    assert consultation["assignedToUserId"] == "dr_smith"
    assert consultation["reason"] == "triaged as URGENT - Severe chest pain for 2 hours"
    # The scenario's explicit routing to Dr. Smith adds no second assignment.
    routed = await journey.call(
        "POST",
        "clinical",
        "/assignments",
        "nurse_sarah",
        (200, 201),
        json={
            "patientId": journey.patient_id,
            "assignedToUserId": "dr_smith",
            "assignmentType": "CONSULTATION",
            "priority": "URGENT",
        },
    )
    assert routed["id"] == consultation["id"]
    all_for_visit = await journey.call(
        "GET", "clinical", f"/assignments?visitId={journey.visit_id}&status=ALL", "dr_smith"
    )
    assert len(all_for_visit) == 1

    async def visit_status() -> str:
        visit = await journey.call(
            "GET", "registration", f"/visits/{journey.visit_id}", "alice_receptionist"
        )
        return visit["status"]

    await eventually(visit_status, until=lambda s: s == "WAITING_CONSULTATION")

    # After the handover the findings stay as consultation got them (issue 10, item 8).
    [encounter] = await journey.call(
        "GET", "triage", f"/encounters?visitId={journey.visit_id}", "nurse_sarah"
    )
    late = await http.patch(
        f"{stack.url('triage')}/encounters/{encounter['id']}",
        json={"triageCategory": "NORMAL", "version": encounter["version"]},
        headers=auth("nurse_sarah"),
    )
    assert late.status_code == 409, late.text
    assert "completed" in late.json()["detail"]
    [still] = await journey.call(
        "GET", "triage", f"/encounters?visitId={journey.visit_id}", "nurse_sarah"
    )
    assert (still["triageCategory"], still["version"]) == ("URGENT", encounter["version"])


async def test_clinical_data_is_not_for_the_front_desk(stack: Stack, http) -> None:
    journey = Journey(http, urls(stack))
    await journey.register()
    for user in ("alice_receptionist", "tom_cashier"):
        response = await http.get(
            f"{stack.url('triage')}/encounters?visitId={journey.visit_id}", headers=auth(user)
        )
        assert response.status_code == 403
