"""The acceptance story: John Doe's whole visit, and what each staff member saw live."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.live import StaffSocket
from tests.support.scenario_run import STAFF, VisitRun, run_visit
from tests.support.stack import Stack

CLINICAL_KEYS = {
    "diagnosis",
    "diagnoses",
    "results",
    "vitalSigns",
    "medicationName",
    "dosage",
    "dispensingNotes",
    "chiefComplaint",
    "updates",
    "notes",
}


@contextlib.asynccontextmanager
async def everyone_connected(stack: Stack) -> AsyncIterator[dict[str, StaffSocket]]:
    sockets = {user: StaffSocket(stack.ws_url(user), user) for user in STAFF}
    await asyncio.gather(*(s.connect() for s in sockets.values()))
    try:
        yield sockets
    finally:
        await asyncio.gather(*(s.close() for s in sockets.values()))


def urls(stack: Stack) -> dict[str, str]:
    return {s: stack.url(s) for s in stack.processes}


def sockets_of(run: VisitRun, user: str, event: str) -> list[dict[str, Any]]:
    return [f for f in run.sockets[user].frames if f["event"] == event]


def names(frames: list[dict[str, Any]]) -> set[str]:
    return {f["event"] for f in frames}


async def count(stack: Stack, service: str, sql: str, *args: Any) -> int:
    db = await stack.connect_db(service)
    try:
        return await db.fetchval(sql, *args)
    finally:
        await db.close()


async def test_john_does_visit_from_registration_to_payment(stack: Stack, http) -> None:
    async with everyone_connected(stack) as sockets:
        run = await run_visit(http, urls(stack), sockets)
        await asyncio.sleep(0.5)  # let trailing frames (visit_completed to all) land
    pid, visit_id = run.journey.patient_id, run.journey.visit_id

    alice, sarah, doctor = (
        run.of(pid, "alice_receptionist"),
        run.of(pid, "nurse_sarah"),
        run.of(pid, "dr_smith"),
    )
    mike, lisa, tom = (
        run.of(pid, "mike_lab_tech"),
        run.of(pid, "lisa_pharmacist"),
        run.of(pid, "tom_cashier"),
    )

    # Receptionist (Alice): registered, assigned to triage, visit completed and paid.
    registered = next(f for f in alice if f["event"] == "patient_registered")["data"]
    assert registered["assignedTo"] == "nurse_sarah"
    assert registered["registeredBy"] == "alice_receptionist"
    assert registered["opNumber"] == run.journey.patient["opNumber"]
    assert "visit_completed" in names(alice)
    assert not names(alice) & {"patient_updated", "lab_results_ready", "new_lab_request"}

    # Triage nurse (Sarah): her assignment; the clinical updates; the completion.
    triage_assignment = next(f for f in sarah if f["event"] == "new_assignment")["data"]
    assert triage_assignment["message"].endswith("assigned for triage")
    assert triage_assignment["priority"] == "NORMAL"
    assert {"patient_updated", "visit_completed"} <= names(sarah)

    # Sarah saw Dr. Smith come to John Doe's record ("Dr. Smith is now handling John Doe").
    joined = [
        m["userId"]
        for f in sockets_of(run, "nurse_sarah", "presence_diff")
        if f["data"]["entityId"] == pid
        for m in f["data"]["joins"]
    ]
    assert "dr_smith" in joined
    # Dr. Smith saw Mike typing the lab results.
    typing = [f["data"] for f in doctor if f["event"] == "typing"]
    assert {"userId": "mike_lab_tech", "field": "lab_results", "isTyping": True}.items() <= next(
        t for t in typing if t["isTyping"]
    ).items()

    # Clinical officer (Dr. Smith): urgent assignment, Sarah's triage, lab results, follow-up.
    consult = [f["data"] for f in doctor if f["event"] == "new_assignment"]
    assert consult and consult[0]["priority"] == "URGENT"
    why = next(f for f in doctor if f["event"] == "patient_assignment_updated")["data"]
    assert why["priority"] == "URGENT" and why["assignedTo"] == "dr_smith"
    assert "triaged as URGENT - Severe chest pain" in why["message"]
    triage_update = next(f for f in doctor if f["event"] == "patient_updated")["data"]
    assert triage_update["updates"]["triageCategory"] == "URGENT"
    assert triage_update["updates"]["vitalSigns"]["bloodPressure"]["text"] == "140/90"
    assert triage_update["updatedBy"] == "nurse_sarah"
    results = next(f for f in doctor if f["event"] == "lab_results_ready")["data"]
    assert results["urgency"] == "URGENT"
    assert results["message"].startswith("URGENT")
    troponin = next(r for r in results["results"] if r["analyte"] == "troponinI")
    assert troponin["value"] == 2.5 and troponin["critical"] is True
    follow_up = next(f for f in doctor if f["event"] == "follow_up_scheduled")["data"]
    assert follow_up["appointmentType"] == "FOLLOW_UP"
    assert follow_up["notes"] == "Post-MI follow-up appointment"

    # Lab technician (Mike): the urgent request, then his assignment.
    request = next(f for f in mike if f["event"] == "new_lab_request")["data"]
    assert (request["testType"], request["urgency"], request["requestedBy"]) == (
        "CARDIAC_ENZYMES",
        "URGENT",
        "dr_smith",
    )
    assert any(
        f["event"] == "new_assignment" and f["data"]["assignmentType"] == "LAB" for f in mike
    )

    # Pharmacist (Lisa): prescription ready, dispensed.
    ready = next(f for f in lisa if f["event"] == "prescription_ready")["data"]
    assert (ready["medicationName"], ready["status"]) == ("Aspirin", "READY_FOR_DISPENSING")
    dispensed = next(f for f in lisa if f["event"] == "prescription_updated")["data"]
    assert (dispensed["status"], dispensed["dispensedBy"]) == ("DISPENSED", "lisa_pharmacist")

    # Cashier (Tom): ready for payment with the price list's total, and nothing clinical at all.
    payment = next(f for f in tom if f["event"] == "patient_ready_for_payment")["data"]
    assert payment["totalAmount"] == 500.0 or payment["totalAmount"] == "500.00"
    assert payment["paymentType"] == "CASH"
    assert set(payment["services"]) == {"Consultation", "Lab Tests", "Medication"}
    assert "visit_completed" in names(tom)
    for frame in tom:
        assert not CLINICAL_KEYS & set(frame["data"]), frame
        assert "I21" not in json.dumps(frame) and "troponin" not in json.dumps(frame).lower()

    # Every staff member who worked on the visit heard it completed, once.
    for user in STAFF:
        completions = [f for f in run.of(pid, user) if f["event"] == "visit_completed"]
        assert len(completions) == 1, (user, completions)
        assert completions[0]["data"]["completedBy"] == "tom_cashier"

    # Final state in the services' own records.
    visit = run.records["visit"]
    assert (visit["status"], visit["paymentStatus"], float(visit["totalAmount"])) == (
        "COMPLETED",
        "PAID",
        500.0,
    )
    assert visit["dischargeNotes"].startswith("Patient stable")
    assert run.records["dispensing"]["status"] == "DISPENSED"
    lab = run.records["lab_results"]
    assert lab["status"] == "COMPLETED"
    flags = {r["analyte"]: r["flag"] for r in lab["results"]}
    assert (
        flags["troponinI"] == "CRITICAL_HIGH"
        and flags["ckMB"] == "HIGH"
        and flags["myoglobin"] == "HIGH"
    )

    # The scenario's tallies.
    assignments = 0
    for service in ("triage", "clinical", "lab", "pharmacy", "billing"):
        assignments += await count(
            stack, service, "select count(*) from assignments where visit_id = $1", visit_id
        )
    assert assignments >= 5  # one per department: triage, consultation, lab, pharmacy, payment
    assignment_changes = 0
    for service in ("triage", "clinical", "lab", "pharmacy", "billing"):
        assignment_changes += await count(
            stack,
            service,
            "select count(*) from outbox where routing_key like 'assignment.%'"
            " and envelope->>'visitid' = $1",
            visit_id,
        )
    assert assignment_changes >= 6  # created and updated
    notifications = await count(
        stack, "notifier", "select count(*) from notifications where patient_id = $1", pid
    )
    assert notifications >= 12
    audits = 0
    for service in ("registration", "triage", "clinical", "lab", "pharmacy", "billing"):
        audits += await count(
            stack,
            service,
            "select count(*) from audit_log where resource_id = $1 or resource_id = $2"
            " or after::text like $3 or before::text like $3",
            pid,
            visit_id,
            f"%{pid}%",
        )
    assert audits >= 15
    # 0 conflicts: every call above succeeded first time (run_visit asserts each status).


@pytest.mark.slow
async def test_twenty_visits_at_once_all_complete_correctly(stack: Stack, http) -> None:
    async with everyone_connected(stack) as sockets:
        runs: list[VisitRun] = await asyncio.gather(
            *(run_visit(http, urls(stack), sockets, timeout=60) for _ in range(20))
        )
        await asyncio.sleep(0.5)
    patients = {r.journey.patient_id for r in runs}
    assert len(patients) == 20
    for run in runs:
        visit = run.records["visit"]
        assert (visit["status"], visit["paymentStatus"]) == ("COMPLETED", "PAID")
        invoice = await run.journey.call(
            "GET", "billing", f"/visits/{run.journey.visit_id}/invoice", "tom_cashier"
        )
        assert float(invoice["total"]) == 500.0 and float(invoice["balance"]) == 0.0
    # Nobody received a frame addressed to someone else.
    addressed = {"new_assignment": "assignedTo", "patient_assignment_updated": "assignedTo"}
    for user, socket in sockets.items():
        for frame in socket.frames:
            key = addressed.get(frame["event"])
            if key and frame["data"].get(key) is not None:
                assert frame["data"][key] == user, (user, frame)
            if frame["event"] in ("lab_results_ready", "follow_up_scheduled"):
                assert user == "dr_smith", (user, frame)
            if frame["event"] == "patient_ready_for_payment":
                assert user == "tom_cashier", (user, frame)
        # Each notification reached each person once.
        ids = [f["id"] for f in socket.frames if "id" in f]
        assert len(ids) == len(set(ids)), user
