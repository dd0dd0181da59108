"""Clinical's event handlers: triage's findings and handoff, lab results, dispensing."""

from __future__ import annotations

import datetime as dt

from clinical.models import LabRequest, Prescription, TriageFindings
from kliniki.consumer import Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import Priority
from kliniki.worklist.service import Worklist


async def _findings(uow: UnitOfWork, event: CloudEvent) -> TriageFindings | None:
    """The visit's findings row, or None when this event is older than what we hold."""
    data = event.data
    findings = await uow.session.get(TriageFindings, data["visitId"], with_for_update=True)
    if findings is None:
        findings = TriageFindings(
            visit_id=data["visitId"], patient_id=data["patientId"], encounter_id=data["encounterId"]
        )
        uow.session.add(findings)
    elif (event.sequence or 0) <= findings.source_sequence:
        return None
    findings.source_sequence = event.sequence or 0
    findings.triage_category = data.get("triageCategory")
    findings.chief_complaint = data.get("chiefComplaint")
    findings.vital_signs = data.get("vitalSigns") or {}
    findings.tews_score = data.get("tewsScore", findings.tews_score)
    findings.recorded_by = data.get("updatedBy") or data.get("completedBy")
    return findings


async def on_encounter_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    await _findings(uow, event)


def handoff_subscriptions(worklist: Worklist) -> list[Subscription]:
    async def on_triage_completed(uow: UnitOfWork, event: CloudEvent) -> None:
        """Triage handed the patient over: onto the consultation worklist, most urgent first."""
        findings = await _findings(uow, event)
        if findings is not None:
            findings.completed = True
        data = event.data
        complaint = data.get("chiefComplaint") or "no complaint recorded"
        await worklist.place(
            uow,
            patient_id=data["patientId"],
            visit_id=data["visitId"],
            priority=Priority(data["priority"]),
            reason=f"triaged as {data['triageCategory']} - {complaint}",
            cause="triage completed",
        )

    async def on_lab_completed(uow: UnitOfWork, event: CloudEvent) -> None:
        data = event.data
        request = await uow.session.get(LabRequest, data["labRequestId"], with_for_update=True)
        if request is None or request.status == "COMPLETED":
            return
        request.status = "COMPLETED"
        request.results = data.get("results")
        request.results_critical = data.get("critical")
        request.result_notes = data.get("notes")
        request.completed_by = data.get("completedBy")
        request.completed_at = (
            dt.datetime.fromisoformat(data["completedAt"])
            if data.get("completedAt")
            else event.time
        )

    async def on_dispensed(uow: UnitOfWork, event: CloudEvent) -> None:
        data = event.data
        prescription = await uow.session.get(
            Prescription, data["prescriptionId"], with_for_update=True
        )
        if prescription is None or prescription.status == "DISPENSED":
            return
        prescription.status = "DISPENSED"
        prescription.dispensed_by = data.get("dispensedBy")
        prescription.dispensed_at = event.time

    return [
        Subscription("triage", "encounter.updated", on_encounter_updated),
        Subscription("triage", "triage.completed", on_triage_completed),
        Subscription("lab", "lab_request.completed", on_lab_completed),
        Subscription("pharmacy", "prescription.dispensed", on_dispensed),
    ]
