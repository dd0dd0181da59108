"""Clinical's event handlers: triage's findings and handoff, lab results, dispensing.

Each handler receives its event's data parsed into the model in kliniki.contracts.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from clinical import service
from clinical.models import FollowUp, TriageFindings, VisitRecord
from kliniki.consumer import Subscription
from kliniki.contracts import Handlers, lab, pharmacy, registration, triage
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork, to_json
from kliniki.worklist.domain import Priority
from kliniki.worklist.service import Worklist


async def _findings(
    uow: UnitOfWork, event: CloudEvent, data: triage.EncounterUpdated | triage.TriageCompleted
) -> TriageFindings | None:
    """The visit's findings row, or None when this event is older than what we hold."""
    findings = await uow.session.get(TriageFindings, data.visit_id, with_for_update=True)
    if findings is None:
        findings = TriageFindings(
            visit_id=data.visit_id, patient_id=data.patient_id, encounter_id=data.encounter_id
        )
        uow.session.add(findings)
    elif (event.sequence or 0) <= findings.source_sequence:
        return None
    findings.source_sequence = event.sequence or 0
    findings.triage_category = data.triage_category
    findings.chief_complaint = data.chief_complaint
    findings.vital_signs = to_json(data.vital_signs)
    if isinstance(data, triage.EncounterUpdated):
        if "tews_score" in data.model_fields_set:  # else the score held stays
            findings.tews_score = data.tews_score
        findings.recorded_by = data.updated_by
    else:
        findings.recorded_by = data.completed_by
    return findings


# What clinical keeps of other services' records, whatever the worklist.
records = Handlers()


@records("triage", triage.ENCOUNTER_UPDATED)
async def on_encounter_updated(
    uow: UnitOfWork, event: CloudEvent, data: triage.EncounterUpdated
) -> None:
    await _findings(uow, event, data)


@records("lab", lab.LAB_REQUEST_COMPLETED)
async def on_lab_completed(
    uow: UnitOfWork, event: CloudEvent, data: lab.LabRequestCompleted
) -> None:
    await service.record_lab_results(uow, data)


@records("pharmacy", pharmacy.PRESCRIPTION_DISPENSED)
async def on_dispensed(
    uow: UnitOfWork, event: CloudEvent, data: pharmacy.PrescriptionDispensed
) -> None:
    await service.record_dispensed(uow, data, dispensed_at=event.time)


def handoff_subscriptions(worklist: Worklist) -> list[Subscription]:
    """The handoff from triage onto the consultation worklist, and the records kept."""
    handoff = Handlers()

    @handoff("triage", triage.TRIAGE_COMPLETED)
    async def on_triage_completed(
        uow: UnitOfWork, event: CloudEvent, data: triage.TriageCompleted
    ) -> None:
        """Triage handed the patient over: onto the consultation worklist, most urgent first."""
        findings = await _findings(uow, event, data)
        if findings is not None:
            findings.completed = True
        await service.take_over_from_triage(
            uow,
            worklist,
            patient_id=data.patient_id,
            visit_id=data.visit_id,
            priority=Priority(data.priority),
            triage_category=data.triage_category,
            chief_complaint=data.chief_complaint,
        )

    return [*handoff.subscriptions(), *records.subscriptions()]


# -- what registration says of visits: the FHIR export's Encounter period, phone, follow-ups --


async def _visit_record(
    uow: UnitOfWork, event: CloudEvent, visit_id: str, patient_id: str
) -> VisitRecord | None:
    """The visit's record, or None when this event is older than what it holds."""
    record = await uow.session.get(VisitRecord, visit_id, with_for_update=True)
    if record is None:
        record = VisitRecord(visit_id=visit_id, patient_id=patient_id)
        uow.session.add(record)
    elif (event.sequence or 0) <= record.source_sequence:
        return None
    record.source_sequence = event.sequence or 0
    return record


@records("registration", registration.PATIENT_REGISTERED)
async def on_patient_registered(
    uow: UnitOfWork, event: CloudEvent, data: registration.PatientRegistered
) -> None:
    record = await _visit_record(uow, event, data.visit_id, data.patient_id)
    if record is not None:
        record.phone_number = data.phone_number
        record.opened_at = data.registered_at
        record.status = record.status or "REGISTERED"


@records(
    "registration",
    registration.VISIT_OPENED,
    registration.VISIT_UPDATED,
    registration.VISIT_COMPLETED,
)
async def on_visit_changed(
    uow: UnitOfWork, event: CloudEvent, data: registration.VisitData
) -> None:
    """``visit.opened``, ``visit.updated``, ``visit.completed``."""
    record = await _visit_record(uow, event, data.visit_id, data.patient_id)
    if record is None:
        return
    record.status = data.status
    record.opened_at = data.opened_at
    record.completed_at = data.completed_at or record.completed_at
    if record.phone_number is None:  # a returning patient: the phone registration last gave
        record.phone_number = await uow.session.scalar(
            select(VisitRecord.phone_number)
            .where(
                VisitRecord.patient_id == record.patient_id, VisitRecord.phone_number.is_not(None)
            )
            .order_by(VisitRecord.source_sequence.desc())
            .limit(1)
        )


@records("registration", registration.PATIENT_UPDATED)
async def on_patient_updated(
    uow: UnitOfWork, event: CloudEvent, data: registration.PatientUpdated
) -> None:
    if "phone_number" in data.model_fields_set:
        await uow.session.execute(
            update(VisitRecord)
            .where(VisitRecord.patient_id == data.patient_id)
            .values(phone_number=data.phone_number)
        )


@records("registration", registration.APPOINTMENT_SCHEDULED)
async def on_appointment_scheduled(
    uow: UnitOfWork, event: CloudEvent, data: registration.AppointmentScheduled
) -> None:
    values = {
        "appointment_id": data.appointment_id,
        "patient_id": data.patient_id,
        "visit_id": data.visit_id,
        "appointment_date": data.appointment_date,
        "appointment_type": data.appointment_type or "FOLLOW_UP",
        "clinician_id": data.clinician_id,
        "notes": data.notes,
    }
    await uow.session.execute(pg_insert(FollowUp).values(**values).on_conflict_do_nothing())
