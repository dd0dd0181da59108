"""Step 4 through HTTP and RabbitMQ: clinical's order in, the worklist, results, the report out.

Clinical's ``lab_request.created`` is put on ``clinical.events`` by the test itself, so the lab
is tested against the contract of docs/events.md and nothing else.
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

SCENARIO_RESULTS = {"troponinI": "2.5 ng/mL", "ckMB": "45 U/L", "myoglobin": "180 ng/mL"}
NORMAL_RESULTS = {"troponinI": "0.01 ng/mL", "ckMB": "10 U/L", "myoglobin": "40 ng/mL"}


def clinical_event(journey: Journey, routing_key: str, **data: Any) -> CloudEvent:
    return CloudEvent(
        source="/services/clinical",
        type=f"{routing_key}.v1",
        subject=journey.patient_id,
        visitid=journey.visit_id,
        actorid="dr_smith",
        data={"patientId": journey.patient_id, "visitId": journey.visit_id, **data},
    )


async def fetch(stack: Stack, sql: str, *args: Any) -> list[Any]:
    db = await stack.connect_db("lab")
    try:
        return await db.fetch(sql, *args)
    finally:
        await db.close()


async def registered_patient(stack: Stack, http: httpx.AsyncClient) -> Journey:
    """A patient registered at the front desk, once the lab has heard of them."""
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    await eventually(
        lambda: fetch(
            stack, "select 1 from patient_snapshots where patient_id = $1", journey.patient_id
        )
    )
    return journey


def order_event(
    journey: Journey, test_type: str = "CARDIAC_ENZYMES", urgency: str = "URGENT"
) -> CloudEvent:
    """Clinical's ``lab_request.created`` for a new order (docs/events.md)."""
    return clinical_event(
        journey,
        "lab_request.created",
        labRequestId=f"lab_request_{uuid.uuid4().hex[:12]}",
        testType=test_type,
        urgency=urgency,
        notes="Check troponin levels for MI confirmation",
        requestedBy="dr_smith",
        createdAt="2024-01-08T09:30:00+00:00",
    )


async def order(
    stack: Stack,
    journey: Journey,
    test_type: str = "CARDIAC_ENZYMES",
    urgency: str = "URGENT",
) -> dict[str, Any]:
    """Clinical orders a test; returns the lab's record of it once it has arrived."""
    event = order_event(journey, test_type, urgency)
    await stack.publish_raw("clinical", "lab_request.created", event.to_json_bytes())
    return await lab_request(journey, event.data["labRequestId"])


async def lab_request(journey: Journey, request_id: str) -> dict[str, Any]:
    async def probe() -> httpx.Response:
        return await journey.http.get(
            f"{journey.urls['lab']}/lab-requests/{request_id}", headers=auth("mike_lab_tech")
        )

    response = await eventually(probe, lambda r: r.status_code == 200)
    return response.json()


async def patch(
    journey: Journey, request_id: str, user: str = "mike_lab_tech", **kwargs: Any
) -> httpx.Response:
    return await journey.http.patch(
        f"{journey.urls['lab']}/lab-requests/{request_id}",
        headers={**auth(user), **kwargs.pop("headers", {})},
        **kwargs,
    )


async def visit_assignments(journey: Journey, status: str = "ACTIVE") -> list[dict[str, Any]]:
    return await journey.call(
        "GET", "lab", f"/assignments?visitId={journey.visit_id}&status={status}", "mike_lab_tech"
    )


async def outbox(stack: Stack, routing_key: str, patient_id: str) -> list[dict[str, Any]]:
    rows = await fetch(
        stack,
        "select envelope from outbox where routing_key = $1 and envelope->>'subject' = $2"
        " order by id",
        routing_key,
        patient_id,
    )
    return [json.loads(r["envelope"]) for r in rows]


async def test_an_urgent_order_is_worked_and_its_critical_results_are_reported(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    request = await order(stack, journey)

    # The order, with who the patient is from registration's events.
    assert request["status"] == "REQUESTED"
    assert request["patientName"] == journey.patient["fullName"]
    assert request["opNumber"] == journey.patient["opNumber"]
    assert (request["testType"], request["testName"]) == ("CARDIAC_ENZYMES", "Cardiac enzymes")
    assert (request["urgency"], request["requestedBy"]) == ("URGENT", "dr_smith")
    assert request["orderNotes"] == "Check troponin levels for MI confirmation"
    assert request["results"] == [] and request["version"] == 1

    # On the lab worklist, urgent, with the reason; Mike's explicit routing finds it there.
    [assignment] = await visit_assignments(journey)
    assert (assignment["assignmentType"], assignment["priority"]) == ("LAB", "URGENT")
    assert assignment["reason"] == "Cardiac enzymes ordered by dr_smith"
    routed = await journey.call(
        "POST",
        "lab",
        "/assignments",
        "mike_lab_tech",
        (200, 201),
        json={
            "patientId": journey.patient_id,
            "assignedToUserId": "mike_lab_tech",
            "assignmentType": "LAB",
            "priority": "URGENT",
        },
    )
    assert routed["id"] == assignment["id"] and routed["assignedToUserId"] == "mike_lab_tech"

    # updateLabRequest exactly as the scenario writes it.
    response = await patch(
        journey,
        request["id"],
        json={
            "status": "COMPLETED",
            "results": SCENARIO_RESULTS,
            "completedAt": "2000-01-01T00:00:00Z",
            "notes": "Results confirm acute myocardial infarction",
            "version": request["version"],
        },
    )
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "COMPLETED" and done["critical"] is True
    assert (done["completedBy"], done["notes"]) == (
        "mike_lab_tech",
        "Results confirm acute myocardial infarction",
    )
    assert done["completedAt"] > "2020"  # the server's clock, not the one sent
    results = {r["analyte"]: r for r in done["results"]}
    assert list(results) == ["troponinI", "ckMB", "myoglobin"]  # catalogue order
    troponin = results["troponinI"]
    assert (troponin["value"], troponin["unit"], troponin["text"]) == (2.5, "ng/mL", "2.5 ng/mL")
    assert (troponin["flag"], troponin["critical"], troponin["abnormal"]) == (
        "CRITICAL_HIGH",
        True,
        True,
    )
    assert troponin["referenceRange"]["high"] == 0.04
    assert (results["ckMB"]["flag"], results["myoglobin"]["flag"]) == ("HIGH", "HIGH")
    assert done == await lab_request(journey, request["id"])

    # In the same transaction: the report for the clinician, the worklist done, the audit.
    [report] = await outbox(stack, "lab_request.completed", journey.patient_id)
    data = report["data"]
    assert (report["type"], report["visitid"], report["actorid"]) == (
        "lab_request.completed.v1",
        journey.visit_id,
        "mike_lab_tech",
    )
    assert (data["labRequestId"], data["urgency"], data["critical"]) == (
        request["id"],
        "URGENT",
        True,
    )
    assert (data["requestedBy"], data["testName"]) == ("dr_smith", "Cardiac enzymes")
    assert data["results"] == done["results"]
    assert await visit_assignments(journey) == []
    [completed] = await visit_assignments(journey, "COMPLETED")
    assert completed["id"] == assignment["id"]
    audit = await fetch(
        stack,
        "select action from audit_log where resource = 'LAB_REQUEST' and resource_id = $1"
        " order by id",
        request["id"],
    )
    assert [a["action"] for a in audit] == ["CREATE", "COMPLETE"]


async def test_results_can_be_entered_a_few_at_a_time_and_structured(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    request = await order(stack, journey, urgency="NORMAL")

    response = await patch(
        journey,
        request["id"],
        json={"results": {"troponinI": {"value": 0.01, "unit": "ng/mL"}}},
        headers={"If-Match": f'"{request["version"]}"'},
    )
    assert response.status_code == 200, response.text
    started = response.json()
    assert (started["status"], started["startedBy"]) == ("IN_PROGRESS", "mike_lab_tech")
    assert [r["text"] for r in started["results"]] == ["0.01 ng/mL"]
    [progress] = await outbox(stack, "lab_request.updated", journey.patient_id)
    assert progress["data"]["changedFields"] == ["results", "status"]
    assert "results" not in progress["data"]  # values travel only when reported

    response = await patch(
        journey,
        request["id"],
        json={
            "status": "completed",
            "results": {"ckMB": 10, "myoglobin": "40 ng/ml"},
            "version": started["version"],
        },
    )
    assert response.status_code == 200, response.text
    done = response.json()
    assert [r["flag"] for r in done["results"]] == ["NORMAL"] * 3
    assert [r["text"] for r in done["results"]] == ["0.01 ng/mL", "10 U/L", "40 ng/mL"]
    [report] = await outbox(stack, "lab_request.completed", journey.patient_id)
    assert (report["data"]["urgency"], report["data"]["critical"]) == ("NORMAL", False)


async def test_bad_values_get_422_naming_the_field_and_change_nothing(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    request = await order(stack, journey)
    refusals = [
        ({"troponinT": "2.5 ng/mL"}, "results.troponinT"),  # unknown analyte
        ({"troponinI": "2.5 mg/dL"}, "results.troponinI"),  # wrong unit
        ({"troponinI": "elevated"}, "results.troponinI"),  # not a number
        ({"troponinI": "-2.5 ng/mL"}, "results.troponinI"),  # negative
        ({"ckMB": {"value": "45", "unit": "U/L"}}, "results.ckMB"),  # a string, not a number
    ]
    for results, field in refusals:
        response = await patch(
            journey, request["id"], json={"results": results, "version": request["version"]}
        )
        assert response.status_code == 422, (results, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]], response.json()

    # Completing needs every analyte of the test: each missing one is named.
    response = await patch(
        journey,
        request["id"],
        json={
            "status": "COMPLETED",
            "results": {"troponinI": "2.5 ng/mL"},
            "version": request["version"],
        },
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["results.ckMB", "results.myoglobin"]

    # A field the lab does not take is refused too, and a status it does not know.
    for body in ({"testType": "FULL_BLOOD_COUNT"}, {"status": "REQUESTED"}):
        response = await patch(journey, request["id"], json={**body, "version": 1})
        assert response.status_code == 422, body

    assert await lab_request(journey, request["id"]) == request
    assert await outbox(stack, "lab_request.updated", journey.patient_id) == []


async def test_a_completed_request_cannot_be_completed_again(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    request = await order(stack, journey)
    body = {"status": "COMPLETED", "results": SCENARIO_RESULTS, "version": request["version"]}
    first = await patch(journey, request["id"], json=body)
    assert first.status_code == 200
    done = first.json()

    again = await patch(
        journey, request["id"], json={**body, "results": NORMAL_RESULTS, "version": done["version"]}
    )
    assert again.status_code == 409, again.text
    problem = again.json()
    assert "already COMPLETED" in problem["detail"]
    assert problem["current"] == done
    assert await lab_request(journey, request["id"]) == done
    assert len(await outbox(stack, "lab_request.completed", journey.patient_id)) == 1


async def test_a_stale_version_gets_409_with_the_current_record(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    request = await order(stack, journey)
    started = await patch(
        journey, request["id"], json={"status": "IN_PROGRESS", "version": request["version"]}
    )
    assert started.status_code == 200
    current = started.json()
    assert current["version"] == request["version"] + 1

    stale = await patch(
        journey,
        request["id"],
        json={"status": "COMPLETED", "results": SCENARIO_RESULTS},
        headers={"If-Match": f'"{request["version"]}"'},
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["current"] == current
    missing = await patch(journey, request["id"], json={"notes": "no version"})
    assert missing.status_code == 422
    assert "version" in [e["field"] for e in missing.json()["errors"]]
    assert await lab_request(journey, request["id"]) == current


@pytest.mark.parametrize("user", ["alice_receptionist", "tom_cashier"])
async def test_the_front_desk_and_the_till_cannot_read_lab_results(
    stack: Stack, http: httpx.AsyncClient, user: str
) -> None:
    journey = await registered_patient(stack, http)
    request = await order(stack, journey)
    lab = stack.url("lab")
    for path in (
        f"/lab-requests/{request['id']}",
        "/lab-requests",
        "/lab-requests?status=COMPLETED",
    ):
        response = await http.get(f"{lab}{path}", headers=auth(user))
        assert response.status_code == 403, (path, response.text)
    # Only the lab enters results; a clinician reads them.
    for other in (user, "dr_smith", "lisa_pharmacist"):
        response = await patch(
            journey,
            request["id"],
            user=other,
            json={"status": "COMPLETED", "results": SCENARIO_RESULTS, "version": 1},
        )
        assert response.status_code == 403, other
    assert (await http.get(f"{lab}/lab-requests", headers=auth("dr_smith"))).status_code == 200
    assert await lab_request(journey, request["id"]) == request


async def test_a_redelivered_order_creates_nothing_new(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    event = order_event(journey)
    await stack.publish_raw("clinical", "lab_request.created", event.to_json_bytes())
    request_id = event.data["labRequestId"]
    request = await lab_request(journey, request_id)
    [assignment] = await visit_assignments(journey)

    # The same event again, then the same order under a new event id. The queue is handled
    # in order, so once the second is in the inbox the first was handled too.
    await stack.publish_raw("clinical", "lab_request.created", event.to_json_bytes())
    again = event.model_copy(update={"id": str(uuid.uuid4())})
    await stack.publish_raw("clinical", "lab_request.created", again.to_json_bytes())
    await eventually(lambda: fetch(stack, "select 1 from inbox where event_id = $1", again.id))

    assert len(await fetch(stack, "select 1 from lab_requests where id = $1", request_id)) == 1
    assert await lab_request(journey, request_id) == request
    assert await visit_assignments(journey) == [assignment]
    created = await fetch(
        stack,
        "select 1 from outbox where routing_key like 'assignment.%' and envelope->>'visitid' = $1",
        journey.visit_id,
    )
    assert len(created) == 1  # assignment.created, and nothing after it
    audit = await fetch(stack, "select 1 from audit_log where resource_id = $1", request_id)
    assert len(audit) == 1


async def test_a_cancelled_order_leaves_the_worklist_and_cannot_be_completed(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    request = await order(stack, journey)
    cancelled = clinical_event(
        journey,
        "lab_request.cancelled",
        labRequestId=request["id"],
        cancelledBy="dr_smith",
        reason="Ordered twice",
    )
    await stack.publish_raw("clinical", "lab_request.cancelled", cancelled.to_json_bytes())
    record = await eventually(
        lambda: lab_request(journey, request["id"]), lambda r: r["status"] == "CANCELLED"
    )
    assert (record["cancelledBy"], record["cancelReason"]) == ("dr_smith", "Ordered twice")
    assert await visit_assignments(journey) == []
    assert len(await visit_assignments(journey, "CANCELLED")) == 1

    response = await patch(
        journey,
        request["id"],
        json={"status": "COMPLETED", "results": SCENARIO_RESULTS, "version": record["version"]},
    )
    assert response.status_code == 409
    assert response.json()["current"]["status"] == "CANCELLED"


async def test_the_lab_assignment_stays_until_every_order_of_the_visit_is_done(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    cardiac = await order(stack, journey, urgency="NORMAL")
    malaria = await order(stack, journey, "MALARIA_RDT", urgency="URGENT")

    # One assignment for the visit, now urgent, naming both tests.
    [assignment] = await visit_assignments(journey)
    assert assignment["priority"] == "URGENT"
    assert assignment["reason"] == (
        "Cardiac enzymes ordered by dr_smith; Malaria rapid diagnostic test ordered by dr_smith"
    )
    # Completing it by hand while a test is open is refused, with the open orders named.
    response = await http.patch(
        f"{stack.url('lab')}/assignments/{assignment['id']}",
        headers=auth("mike_lab_tech"),
        json={"status": "COMPLETED", "version": assignment["version"]},
    )
    assert response.status_code == 409, response.text
    assert set(response.json()["openOrders"]) == {cardiac["id"], malaria["id"]}
    # Cancelling it would drop the patient from the worklist with open orders just the same.
    response = await http.patch(
        f"{stack.url('lab')}/assignments/{assignment['id']}",
        headers=auth("mike_lab_tech"),
        json={"status": "CANCELLED", "version": assignment["version"]},
    )
    assert response.status_code == 409, response.text
    assert set(response.json()["openOrders"]) == {cardiac["id"], malaria["id"]}

    response = await patch(
        journey,
        malaria["id"],
        json={"status": "COMPLETED", "results": {"plasmodium": "positive"}, "version": 1},
    )
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert (result["value"], result["flag"], result["referenceRange"]) == (
        "POSITIVE",
        "ABNORMAL",
        None,
    )
    assert len(await visit_assignments(journey)) == 1  # cardiac enzymes still to do

    response = await patch(
        journey,
        cardiac["id"],
        json={"status": "COMPLETED", "results": NORMAL_RESULTS, "version": 1},
    )
    assert response.status_code == 200
    assert await visit_assignments(journey) == []
    [done] = await visit_assignments(journey, "COMPLETED")
    assert done["id"] == assignment["id"]


async def test_the_catalogue_lists_tests_analytes_and_ranges(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{stack.url('lab')}/lab-tests", headers=auth("dr_smith"))
    assert response.status_code == 200
    tests = {t["code"]: t for t in response.json()}
    assert {"CARDIAC_ENZYMES", "FULL_BLOOD_COUNT", "MALARIA_RDT"} <= set(tests)
    troponin = tests["CARDIAC_ENZYMES"]["analytes"][0]
    assert (troponin["key"], troponin["unit"]) == ("troponinI", "ng/mL")
    assert troponin["referenceRange"]["criticalHigh"] == 0.5
    assert (await http.get(f"{stack.url('lab')}/lab-tests")).status_code == 401
