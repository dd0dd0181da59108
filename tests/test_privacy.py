"""Each role reads what its work needs and no more (README: "Who may see what"), over REST as on the
WebSocket; reading a clinical record leaves a trace; nothing is listed in bulk.

One patient goes through triage and consultation with a marker word in every clinical field
(complaint, diagnosis notes, medicine, lab order, follow-up notes); then every read route of every
service is called as every role, and no answer to a role without clinical:read may contain the
marker, or a visit's discharge notes field.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from kliniki.access import Permission, Role, roles_for
from tests.scenario import another_patient
from tests.support.journey import Journey
from tests.support.routes import all_routes
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually
from tests.test_access_walk import role_token

MARKER = "Zqx"  # in every clinical field of the patient below, and nowhere else
CLINICAL_READERS = {r.value for r in roles_for(Permission.CLINICAL_READ)}
NON_CLINICAL = [r.value for r in Role if r.value not in CLINICAL_READERS]
# Every read route but the FHIR export: handing a visit's whole record to another system is a
# disclosure on purpose, audited, for the roles the matrix gives record:export.
READ_ROUTES = [
    r for r in all_routes() if r.method == "GET" and r.permission is not Permission.RECORD_EXPORT
]


async def consulted_patient(stack: Stack, http: httpx.AsyncClient) -> dict[str, Any]:
    """Triaged, diagnosed, prescribed for and sent to the lab, with follow-up booked: the ids
    every read route needs, once each department has the patient's records."""
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    encounter = await journey.triage("URGENT")
    await journey.call(
        "PATCH",
        "triage",
        f"/encounters/{encounter['id']}",
        "nurse_sarah",
        json={"chiefComplaint": f"{MARKER} crushing chest pain", "version": encounter["version"]},
    )
    await journey.complete_assignment("triage", "nurse_sarah")
    await journey.assignment("clinical", "dr_smith")
    pid = journey.patient_id
    for path, body in (
        ("diagnoses", {"diagnosisCode": "I21.9", "notes": f"{MARKER} diagnosis notes"}),
        (
            "prescriptions",
            {
                "medicationName": f"{MARKER}morphine",
                "dosage": "10mg",
                "frequency": "Once daily",
                "duration": "3 days",
            },
        ),
        ("lab-requests", {"testType": "CARDIAC_ENZYMES", "notes": f"{MARKER} lab order"}),
    ):
        await journey.call(
            "POST", "clinical", f"/patients/{pid}/{path}", "dr_smith", 201, json=body
        )
    await journey.call(
        "POST",
        "registration",
        "/appointments",
        "dr_smith",
        201,
        json={
            "patientId": pid,
            "appointmentDate": "2099-01-15",
            "notes": f"{MARKER} follow-up notes",
            "visitId": journey.visit_id,
        },
    )
    await journey.complete_assignment("clinical", "dr_smith")
    pharmacy = await journey.assignment("pharmacy", "lisa_pharmacist")
    lab = await journey.assignment("lab", "mike_lab_tech")
    [prescription] = await eventually(
        lambda: journey.call(
            "GET", "pharmacy", f"/prescriptions?visitId={journey.visit_id}", "lisa_pharmacist"
        )
    )
    [lab_request] = await eventually(
        lambda: journey.call(
            "GET", "lab", f"/lab-requests?visitId={journey.visit_id}", "mike_lab_tech"
        )
    )

    await journey.call(
        "PATCH",
        "pharmacy",
        f"/prescriptions/{prescription['id']}",
        "lisa_pharmacist",
        json={
            "status": "DISPENSED",
            "dispensingNotes": f"{MARKER} counselling",
            "version": prescription["version"],
        },
    )

    async def medication_billed() -> bool:
        bill = await journey.call(
            "GET", "billing", f"/visits/{journey.visit_id}/invoice", "tom_cashier"
        )
        return any(item["kind"] == "MEDICATION" for item in bill["items"])

    await eventually(medication_billed)
    return {
        "patient": journey.patient,
        "encounter_id": encounter["id"],
        "assignments": {"pharmacy": pharmacy["id"], "lab": lab["id"]},
        "request_id": lab_request["id"],
        "prescription_id": prescription["id"],
    }


def url_for(path: str, service: str, ids: dict[str, Any]) -> str:
    patient = ids["patient"]
    values = {
        "patient_id": patient["id"],
        "visit_id": patient["visit"]["id"],
        "encounter_id": ids["encounter_id"],
        "assignment_id": ids["assignments"].get(service, "no_such_id"),
        "request_id": ids["request_id"],
        "prescription_id": ids["prescription_id"],
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "no_such_id"), path)


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


async def test_every_read_route_hides_clinical_fields_from_roles_without_clinical_read(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    ids = await consulted_patient(stack, http)
    patient = ids["patient"]
    params = {"patientId": patient["id"], "q": patient["lastName"]}
    leaks, marker_seen_by, answered = [], set(), 0
    for role in [r.value for r in Role]:
        token = {"Authorization": f"Bearer {role_token(role)}"}

        async def read(route: Any, token: dict[str, str] = token) -> httpx.Response:
            url = stack.url(route.service) + url_for(route.path, route.service, ids)
            return await http.get(url, params=params, headers=token)

        responses = await asyncio.gather(*(read(route) for route in READ_ROUTES))
        for route, response in zip(READ_ROUTES, responses, strict=True):
            if response.status_code != 200:
                continue
            answered += 1
            if MARKER in response.text:
                marker_seen_by.add(role)
            if role in CLINICAL_READERS:
                continue
            if MARKER in response.text:
                leaks.append(
                    f"{role} {route}: {response.text[response.text.index(MARKER) - 300 :][:400]}"
                )
            if "dischargeNotes" in keys_of(response.json()):
                leaks.append(f"{role} {route}: dischargeNotes")
    assert not leaks, "\n".join(leaks)
    # The walk reached the records: clinical readers do see them, the others read something.
    assert marker_seen_by == CLINICAL_READERS, marker_seen_by
    assert answered > 50


async def test_the_desk_reads_the_visit_bill_and_worklist_without_clinical_fields(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    ids = await consulted_patient(stack, http)
    pid, visit_id = ids["patient"]["id"], ids["patient"]["visit"]["id"]
    registration, billing = stack.url("registration"), stack.url("billing")

    async def get(url: str, user: str, **params: str) -> Any:
        response = await http.get(url, params=params, headers=auth(user))
        assert response.status_code == 200, response.text
        return response.json()

    visit = await get(f"{registration}/visits/{visit_id}", "alice_receptionist")
    assert "dischargeNotes" not in visit and visit["status"]
    assert "dischargeNotes" in await get(f"{registration}/visits/{visit_id}", "dr_smith")
    [desk_view] = await get(f"{registration}/appointments", "alice_receptionist", patientId=pid)
    [clinician_view] = await get(f"{registration}/appointments", "dr_smith", patientId=pid)
    assert "notes" not in desk_view
    assert clinician_view["notes"] == f"{MARKER} follow-up notes"
    bill = await get(f"{billing}/visits/{visit_id}/invoice", "alice_receptionist")
    assert {i["kind"] for i in bill["items"]} >= {"CONSULTATION", "MEDICATION"}
    assert MARKER not in json.dumps(bill)
    pharmacy = f"{stack.url('pharmacy')}/assignments"
    worklist = await get(pharmacy, "admin", patientId=pid, status="ALL")
    assert worklist and all("reason" not in a and "notes" not in a for a in worklist)
    [mine] = await get(pharmacy, "lisa_pharmacist", patientId=pid, status="ALL")
    assert mine["reason"] == f"{MARKER}morphine 10mg prescribed by dr_smith"
    # The admin's audit says who did what and when, not what the record said.
    history = await get(f"{stack.url('clinical')}/audit", "admin", patientId=pid)
    created = {r["resource"]: r for r in history if r["action"] == "CREATE"}
    assert set(created) >= {"DIAGNOSIS", "PRESCRIPTION", "LAB_REQUEST"}
    assert created["PRESCRIPTION"]["actorId"] == "dr_smith"
    assert created["PRESCRIPTION"]["after"]["patientId"] == pid
    assert MARKER not in json.dumps(history)
    assert "medicationName" not in keys_of(history)


async def test_reading_a_clinical_record_is_audited_who_what_when(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    ids = await consulted_patient(stack, http)
    pid = ids["patient"]["id"]
    for user in ("dr_smith", "dr_smith", "nurse_sarah"):
        response = await http.get(
            f"{stack.url('clinical')}/patients/{pid}/record", headers=auth(user)
        )
        assert response.status_code == 200
    encounter = await http.get(
        f"{stack.url('triage')}/encounters/{ids['encounter_id']}", headers=auth("nurse_sarah")
    )
    assert encounter.status_code == 200

    async def reads(service: str) -> list[dict[str, Any]]:
        history = await http.get(
            f"{stack.url(service)}/audit", params={"patientId": pid}, headers=auth("admin")
        )
        assert history.status_code == 200
        return [r for r in history.json() if r["action"] == "READ"]

    record_reads = [r for r in await reads("clinical") if r["resource"] == "PATIENT_RECORD"]
    assert [(r["actorId"], r["resourceId"]) for r in record_reads] == [
        ("dr_smith", pid),
        ("dr_smith", pid),
        ("nurse_sarah", pid),
    ]
    assert all(r["occurredAt"] and r["requestId"] for r in record_reads)
    triage_reads = [
        (r["actorId"], r["resourceId"])
        for r in await reads("triage")
        if r["resource"] == "ENCOUNTER"
    ]
    assert ("nurse_sarah", ids["encounter_id"]) in triage_reads


@pytest.mark.parametrize(
    ("service", "path", "user"),
    [
        ("triage", "/encounters", "nurse_sarah"),
        ("lab", "/lab-requests?status=COMPLETED", "dr_smith"),
        ("pharmacy", "/prescriptions", "lisa_pharmacist"),
        ("pharmacy", "/prescriptions?status=DISPENSED", "dr_smith"),
    ],
)
async def test_clinical_lists_name_a_patient_or_visit(
    stack: Stack, http: httpx.AsyncClient, service: str, path: str, user: str
) -> None:
    response = await http.get(stack.url(service) + path, headers=auth(user))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "patientId"


async def test_the_benches_still_list_their_open_work_for_all_patients(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    lab = await http.get(
        f"{stack.url('lab')}/lab-requests?status=REQUESTED", headers=auth("mike_lab_tech")
    )
    pharmacy = await http.get(
        f"{stack.url('pharmacy')}/prescriptions?status=READY_FOR_DISPENSING",
        headers=auth("lisa_pharmacist"),
    )
    assert (lab.status_code, pharmacy.status_code) == (200, 200)


@pytest.mark.parametrize("q", ["%", "_", "%%", "_%_"])
async def test_like_wildcards_in_a_search_match_only_themselves(
    stack: Stack, http: httpx.AsyncClient, q: str
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    found = await http.get(
        f"{stack.url('registration')}/patients", params={"q": q}, headers=auth("mike_lab_tech")
    )
    assert found.status_code == 200
    assert found.json() == []


async def test_every_list_is_paged_with_a_cursor(stack: Stack, http: httpx.AsyncClient) -> None:
    family = another_patient()["lastName"]
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    registered = [(await journey.register(lastName=family))["id"] for _ in range(3)]
    base = f"{stack.url('registration')}/patients"

    async def page(**params: Any) -> httpx.Response:
        response = await http.get(
            base, params={"q": family, **params}, headers=auth("alice_receptionist")
        )
        assert response.status_code == 200, response.text
        return response

    first = await page(limit=2)
    assert len(first.json()) == 2
    cursor = first.headers["x-next-cursor"]
    assert first.headers["link"].startswith("<?") and 'rel="next"' in first.headers["link"]
    second = await page(limit=2, cursor=cursor)
    assert len(second.json()) == 1 and "x-next-cursor" not in second.headers
    assert sorted(p["id"] for p in first.json() + second.json()) == sorted(registered)
    assert len((await page()).json()) == 3  # 50 by default

    # The notifier's list too: Alice heard of each registration, newest first.
    notifications = f"{stack.url('notifier')}/notifications"

    async def alices(**params: Any) -> httpx.Response:
        return await http.get(notifications, params=params, headers=auth("alice_receptionist"))

    newest = await eventually(lambda: alices(limit=1), lambda r: "x-next-cursor" in r.headers)
    older = await alices(limit=1, cursor=newest.headers["x-next-cursor"])
    assert older.status_code == 200 and len(older.json()) == 1
    assert older.json()[0]["id"] < newest.json()[0]["id"]

    for params, field in (({"limit": 201}, "limit"), ({"cursor": "not-a-cursor"}, "cursor")):
        refused = await http.get(
            base, params={"q": family, **params}, headers=auth("alice_receptionist")
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field
    for service, path in (
        ("registration", "/visits"),
        ("triage", "/assignments"),
        ("billing", "/audit?patientId=x"),
        ("notifier", "/notifications"),
    ):
        refused = await http.get(
            f"{stack.url(service)}{path}", params={"limit": 500}, headers=auth("admin")
        )
        assert refused.status_code == 422, (service, path, refused.text)
