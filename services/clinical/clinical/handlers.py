"""Clinical's event handlers: triage's findings and handoff, lab results, dispensing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from clinical import service
from clinical.models import FollowUp, TriageFindings, VisitRecord
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
        await service.take_over_from_triage(
            uow,
            worklist,
            patient_id=data["patientId"],
            visit_id=data["visitId"],
            priority=Priority(data["priority"]),
            triage_category=data["triageCategory"],
            chief_complaint=data.get("chiefComplaint"),
        )

    async def on_lab_completed(uow: UnitOfWork, event: CloudEvent) -> None:
        data = event.data
        await service.record_lab_results(
            uow,
            data["labRequestId"],
            results=data.get("results"),
            critical=data.get("critical"),
            notes=data.get("notes"),
            completed_by=data.get("completedBy"),
            completed_at=dt.datetime.fromisoformat(data["completedAt"])
            if data.get("completedAt")
            else event.time,
        )

    async def on_dispensed(uow: UnitOfWork, event: CloudEvent) -> None:
        await service.record_dispensed(
            uow,
            event.data["prescriptionId"],
            dispensed_by=event.data.get("dispensedBy"),
            dispensed_at=event.time,
        )

    return [
        *visit_record_subscriptions(),
        Subscription("triage", "encounter.updated", on_encounter_updated),
        Subscription("triage", "triage.completed", on_triage_completed),
        Subscription("lab", "lab_request.completed", on_lab_completed),
        Subscription("pharmacy", "prescription.dispensed", on_dispensed),
    ]


# -- what registration says of visits: the FHIR export's Encounter period, phone, follow-ups --


async def _visit_record(uow: UnitOfWork, event: CloudEvent) -> VisitRecord | None:
    """The visit's record, or None when this event is older than what it holds."""
    data = event.data
    record = await uow.session.get(VisitRecord, data["visitId"], with_for_update=True)
    if record is None:
        record = VisitRecord(visit_id=data["visitId"], patient_id=data["patientId"])
        uow.session.add(record)
    elif (event.sequence or 0) <= record.source_sequence:
        return None
    record.source_sequence = event.sequence or 0
    return record


def _when(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


async def on_patient_registered(uow: UnitOfWork, event: CloudEvent) -> None:
    record = await _visit_record(uow, event)
    if record is not None:
        record.phone_number = event.data.get("phoneNumber")
        record.opened_at = _when(event.data.get("registeredAt")) or event.time
        record.status = record.status or "REGISTERED"


async def on_visit_changed(uow: UnitOfWork, event: CloudEvent) -> None:
    """``visit.opened``, ``visit.updated``, ``visit.completed``."""
    record = await _visit_record(uow, event)
    if record is None:
        return
    data = event.data
    record.status = data.get("status", record.status)
    record.opened_at = _when(data.get("openedAt")) or record.opened_at
    record.completed_at = _when(data.get("completedAt")) or record.completed_at
    if record.phone_number is None:  # a returning patient: the phone registration last gave
        record.phone_number = await uow.session.scalar(
            select(VisitRecord.phone_number)
            .where(
                VisitRecord.patient_id == record.patient_id, VisitRecord.phone_number.is_not(None)
            )
            .order_by(VisitRecord.source_sequence.desc())
            .limit(1)
        )


async def on_patient_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    if "phoneNumber" in event.data:
        await uow.session.execute(
            update(VisitRecord)
            .where(VisitRecord.patient_id == event.data["patientId"])
            .values(phone_number=event.data["phoneNumber"])
        )


async def on_appointment_scheduled(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    values = {
        "appointment_id": data["appointmentId"],
        "patient_id": data["patientId"],
        "visit_id": data.get("visitId"),
        "appointment_date": dt.date.fromisoformat(data["appointmentDate"]),
        "appointment_type": data.get("appointmentType") or "FOLLOW_UP",
        "clinician_id": data.get("clinicianId"),
        "notes": data.get("notes"),
    }
    await uow.session.execute(pg_insert(FollowUp).values(**values).on_conflict_do_nothing())


def visit_record_subscriptions() -> list[Subscription]:
    return [
        Subscription("registration", "patient.registered", on_patient_registered),
        Subscription("registration", "patient.updated", on_patient_updated),
        Subscription("registration", "visit.opened", on_visit_changed),
        Subscription("registration", "visit.updated", on_visit_changed),
        Subscription("registration", "visit.completed", on_visit_changed),
        Subscription("registration", "appointment.scheduled", on_appointment_scheduled),
    ]
