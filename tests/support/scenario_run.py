"""John Doe's whole visit (../shared/scenario.md), step by step, through the public APIs, with
every staff member connected to the notifier. Used by the acceptance test and by ``make demo``."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.journey import Journey
from tests.support.live import StaffSocket

STAFF = [
    "alice_receptionist",
    "nurse_sarah",
    "dr_smith",
    "mike_lab_tech",
    "lisa_pharmacist",
    "tom_cashier",
]

LAB_RESULTS = {"troponinI": "2.5 ng/mL", "ckMB": "45 U/L", "myoglobin": "180 ng/mL"}


@dataclass
class VisitRun:
    """What happened: the records each step returned, and every staff member's socket."""

    journey: Journey
    sockets: dict[str, StaffSocket]
    records: dict[str, Any] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # write returned -> frame arrived, s

    def of(self, patient_id: str, user: str) -> list[dict[str, Any]]:
        """The frames ``user`` received about this patient."""
        return [
            f
            for f in self.sockets[user].frames
            if (f.get("data") or {}).get("patientId") == patient_id
        ]


async def run_visit(
    http: httpx.AsyncClient,
    urls: dict[str, str],
    sockets: dict[str, StaffSocket],
    *,
    timeout: float = 20.0,
    **patient: Any,
) -> VisitRun:
    """Replay steps 1-6 for one patient; every call must succeed first time (no conflicts)."""
    journey = Journey(http, urls)
    run = VisitRun(journey, sockets)
    pid_is = lambda d: d.get("patientId") == journey.patient_id  # noqa: E731

    async def seen(user: str, event: str, written_at: float) -> dict[str, Any]:
        """Wait for ``user``'s frame and record how long after the write it arrived."""
        frame = await sockets[user].wait_for(event, pid_is, timeout)
        run.latencies.append(sockets[user].arrival_of(frame) - written_at)
        return frame

    # Step 1: Alice registers the patient; triage takes them in.
    await journey.register(**patient)
    written = time.perf_counter()
    pid = journey.patient_id
    await seen("nurse_sarah", "new_assignment", written)

    # Step 2: Sarah opens the record, records vital signs and triage category, hands over.
    await sockets["nurse_sarah"].send(
        "entity_edit_start", {"entityType": "patient", "entityId": pid}
    )
    await sockets["nurse_sarah"].send("typing_start", {"patientId": pid, "field": "vital_signs"})
    run.records["encounter"] = await journey.triage("URGENT")
    written = time.perf_counter()
    await sockets["nurse_sarah"].send("typing_stop", {"patientId": pid, "field": "vital_signs"})
    await seen("dr_smith", "patient_updated", written)
    await journey.complete_assignment("triage", "nurse_sarah")
    run.records["consultation_assignment"] = await journey.call(
        "POST",
        "clinical",
        "/assignments",
        "nurse_sarah",
        (200, 201),
        json={
            "patientId": pid,
            "assignedToUserId": "dr_smith",
            "assignmentType": "CONSULTATION",
            "priority": "URGENT",
        },
    )
    await sockets["dr_smith"].wait_for("patient_assignment_updated", pid_is, timeout)

    # Step 3: Dr. Smith opens the record, diagnoses, prescribes and orders tests.
    await sockets["dr_smith"].send("entity_edit_start", {"entityType": "patient", "entityId": pid})
    await sockets["dr_smith"].send("typing_start", {"patientId": pid, "field": "diagnosis"})
    run.records["diagnosis"] = await journey.call(
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
    await sockets["dr_smith"].send("typing_stop", {"patientId": pid, "field": "diagnosis"})
    run.records["prescription"] = prescription = await journey.call(
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
    run.records["lab_request"] = lab_request = await journey.call(
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
    written = time.perf_counter()
    await seen("mike_lab_tech", "new_lab_request", written)

    # Step 4: Mike takes the lab work and enters the results.
    await journey.assignment("lab", "mike_lab_tech")
    await journey.call(
        "POST",
        "lab",
        "/assignments",
        "mike_lab_tech",
        (200, 201),
        json={
            "patientId": pid,
            "assignedToUserId": "mike_lab_tech",
            "assignmentType": "LAB",
            "priority": "URGENT",
        },
    )
    await sockets["mike_lab_tech"].send(
        "entity_edit_start", {"entityType": "lab_request", "entityId": lab_request["id"]}
    )
    await sockets["mike_lab_tech"].send(
        "entity_edit_start", {"entityType": "patient", "entityId": pid}
    )
    await sockets["mike_lab_tech"].send("typing_start", {"patientId": pid, "field": "lab_results"})
    lab_view = await journey.call(
        "GET", "lab", f"/lab-requests/{lab_request['id']}", "mike_lab_tech"
    )
    run.records["lab_results"] = await journey.call(
        "PATCH",
        "lab",
        f"/lab-requests/{lab_request['id']}",
        "mike_lab_tech",
        json={
            "status": "COMPLETED",
            "results": LAB_RESULTS,
            "completedAt": dt.datetime.now(dt.UTC).isoformat(),
            "notes": "Results confirm acute myocardial infarction",
            "version": lab_view["version"],
        },
    )
    written = time.perf_counter()
    await sockets["mike_lab_tech"].send("typing_stop", {"patientId": pid, "field": "lab_results"})
    await seen("dr_smith", "lab_results_ready", written)
    await sockets["lisa_pharmacist"].wait_for("prescription_ready", pid_is, timeout)

    # Dr. Smith reviews the results and ends the consultation.
    await journey.complete_assignment("clinical", "dr_smith")

    # Step 5: Lisa dispenses.
    await journey.assignment("pharmacy", "lisa_pharmacist")
    await journey.call(
        "POST",
        "pharmacy",
        "/assignments",
        "lisa_pharmacist",
        (200, 201),
        json={
            "patientId": pid,
            "assignedToUserId": "lisa_pharmacist",
            "assignmentType": "PHARMACY",
            "priority": "URGENT",
        },
    )
    rx_view = await journey.call(
        "GET", "pharmacy", f"/prescriptions/{prescription['id']}", "lisa_pharmacist"
    )
    run.records["dispensing"] = await journey.call(
        "PATCH",
        "pharmacy",
        f"/prescriptions/{prescription['id']}",
        "lisa_pharmacist",
        json={
            "status": "DISPENSED",
            "dispensedAt": dt.datetime.now(dt.UTC).isoformat(),
            "dispensedBy": "lisa_pharmacist",
            "dispensingNotes": "Patient counseled on aspirin therapy and MI symptoms",
            "version": rx_view["version"],
        },
    )
    written = time.perf_counter()
    await seen("lisa_pharmacist", "prescription_updated", written)
    ready = await seen("tom_cashier", "patient_ready_for_payment", written)

    # Step 6: Tom takes the payment and closes the visit.
    await journey.assignment("billing", "tom_cashier")
    await journey.call(
        "POST",
        "billing",
        "/assignments",
        "tom_cashier",
        (200, 201),
        json={
            "patientId": pid,
            "assignedToUserId": "tom_cashier",
            "assignmentType": "PAYMENT",
            "priority": "NORMAL",
        },
    )
    run.records["payment"] = await journey.call(
        "POST",
        "billing",
        f"/visits/{journey.visit_id}/payments",
        "tom_cashier",
        201,
        json={
            "amount": ready["data"]["totalAmount"],
            "paymentType": "CASH",
            "status": "COMPLETED",
            "processedBy": "tom_cashier",
        },
    )
    written = time.perf_counter()
    await seen("tom_cashier", "visit_completed", written)
    visit = await journey.call("GET", "registration", f"/visits/{journey.visit_id}", "tom_cashier")
    await journey.call(
        "PATCH",
        "registration",
        f"/visits/{journey.visit_id}",
        "tom_cashier",
        json={
            "status": "COMPLETED",
            "paymentStatus": "PAID",
            "totalAmount": ready["data"]["totalAmount"],
            "completedAt": dt.datetime.now(dt.UTC).isoformat(),
            "dischargeNotes": "Patient stable, medication dispensed, follow-up in 1 week",
            "version": visit["version"],
        },
    )
    # The visit as it ends, read by the clinician (the discharge notes are clinical).
    run.records["visit"] = await journey.call(
        "GET", "registration", f"/visits/{journey.visit_id}", "dr_smith"
    )
    # Dr. Smith's follow-up in a week.
    run.records["appointment"] = await journey.call(
        "POST",
        "registration",
        "/appointments",
        "dr_smith",
        201,
        json={
            "patientId": pid,
            "appointmentDate": (dt.date.today() + dt.timedelta(days=7)).isoformat(),
            "appointmentType": "FOLLOW_UP",
            "clinicianId": "dr_smith",
            "notes": "Post-MI follow-up appointment",
        },
    )
    written = time.perf_counter()
    await seen("dr_smith", "follow_up_scheduled", written)
    for user in ("nurse_sarah", "dr_smith", "mike_lab_tech"):
        await sockets[user].send("entity_edit_end", {"entityType": "patient", "entityId": pid})
    return run
