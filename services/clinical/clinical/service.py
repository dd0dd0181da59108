"""Clinical use cases: diagnoses, prescriptions, lab orders, the record, ending a consultation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinical import events, fhir
from clinical.domain import LabRequestStatus, PrescriptionStatus, icd10_description
from clinical.models import (
    Diagnosis,
    FollowUp,
    LabRequest,
    PatientSnapshot,
    PatientVisit,
    Prescription,
    TriageFindings,
    VisitRecord,
)
from clinical.schemas import (
    EARLIER_VISITS,
    DiagnosisCreate,
    DiagnosisOut,
    EarlierVisit,
    LabRequestCreate,
    LabRequestOut,
    OrderCancel,
    PatientRecord,
    PrescriptionCreate,
    PrescriptionOut,
    TriageFindingsOut,
)
from kliniki.contracts import lab, pharmacy
from kliniki.problems import Conflict, InvalidInput, NotFound
from kliniki.records import edit
from kliniki.uow import UnitOfWork, to_json
from kliniki.worklist.domain import Priority, priority_of
from kliniki.worklist.models import AssignmentTable
from kliniki.worklist.service import Worklist, check_patient_visit

OutModel = TypeVar("OutModel", DiagnosisOut, PrescriptionOut, LabRequestOut)
Order = TypeVar("Order", LabRequest, Prescription)
NewRecord = TypeVar("NewRecord", Diagnosis, Prescription, LabRequest)
CANCELLED = "CANCELLED"  # an order's status once cancelled, whichever kind


async def current_visit(session: AsyncSession, patient_id: str, visit_id: str | None) -> str:
    """The visit an order belongs to: the one named, else the patient's current visit."""
    snapshot = await session.get(PatientSnapshot, patient_id)
    if snapshot is None:
        raise NotFound(f"no patient {patient_id} known to clinical")
    if visit_id is not None:
        visit = await session.get(PatientVisit, visit_id)
        check_patient_visit(patient_id, visit_id, visit.patient_id if visit else None)
    chosen = visit_id or snapshot.current_visit_id
    if chosen is None:
        raise InvalidInput("visitId", "the patient has no open visit")
    return chosen


async def visit_priority(session: AsyncSession, visit_id: str) -> str:
    findings = await session.get(TriageFindings, visit_id)
    category = findings.triage_category if findings else None
    return priority_of(category).value


async def _new_record(
    uow: UnitOfWork,
    patient_id: str,
    body: DiagnosisCreate | PrescriptionCreate | LabRequestCreate,
    model: type[NewRecord],
    **written: Any,
) -> NewRecord:
    """A new record of the patient's visit (the one the body names, else the current one):
    the body's fields as sent, and what clinical ``written`` (who, derived values)."""
    visit_id = await current_visit(uow.session, patient_id, body.visit_id)
    sent = body.model_dump(mode="json", exclude={"visit_id"})
    return model(**{**sent, "patient_id": patient_id, "visit_id": visit_id, **written})


async def _record_created(
    uow: UnitOfWork,
    record: Diagnosis | Prescription | LabRequest,
    out_model: type[OutModel],
    event: type[BaseModel],
    routing_key: str,
    resource: str,
    id_field: str,
    **extra: Any,
) -> OutModel:
    """Save a new clinical record, announce it (the record's fields + ``id_field``) and audit."""
    uow.session.add(record)
    await uow.session.flush()
    out = out_model.model_validate(record)
    await uow.publish(
        routing_key,
        event.model_validate(
            {**out.model_dump(mode="json", by_alias=True), id_field: record.id, **extra}
        ),
        subject=record.patient_id,
        visit_id=record.visit_id,
    )
    await uow.audit("CREATE", resource, record.id, after=out)
    return out


async def add_diagnosis(uow: UnitOfWork, patient_id: str, body: DiagnosisCreate) -> DiagnosisOut:
    diagnosis = await _new_record(
        uow,
        patient_id,
        body,
        Diagnosis,
        diagnosis_name=body.diagnosis_name or icd10_description(body.diagnosis_code),
        diagnosed_by=uow.actor_id,
    )
    return await _record_created(
        uow,
        diagnosis,
        DiagnosisOut,
        events.DiagnosisAdded,
        events.DIAGNOSIS_ADDED,
        "DIAGNOSIS",
        "diagnosisId",
    )


async def add_prescription(
    uow: UnitOfWork, patient_id: str, body: PrescriptionCreate
) -> PrescriptionOut:
    prescription = await _new_record(
        uow, patient_id, body, Prescription, prescribed_by=uow.actor_id
    )
    return await _record_created(
        uow,
        prescription,
        PrescriptionOut,
        events.PrescriptionCreated,
        events.PRESCRIPTION_CREATED,
        "PRESCRIPTION",
        "prescriptionId",
        # pharmacy's worklist lane
        priority=await visit_priority(uow.session, prescription.visit_id),
    )


async def add_lab_request(
    uow: UnitOfWork, patient_id: str, body: LabRequestCreate, orderable: dict[str, str]
) -> LabRequestOut:
    if body.test_type not in orderable:
        raise InvalidInput(
            "testType", f"{body.test_type} is not in the lab's catalogue: {', '.join(orderable)}"
        )
    request = await _new_record(uow, patient_id, body, LabRequest, requested_by=uow.actor_id)
    return await _record_created(
        uow,
        request,
        LabRequestOut,
        events.LabRequestCreated,
        events.LAB_REQUEST_CREATED,
        "LAB_REQUEST",
        "labRequestId",
    )


@dataclass(frozen=True)
class OrderKind:
    """What differs between cancelling a prescription and a lab request."""

    model: type[Prescription] | type[LabRequest]
    out_model: type[PrescriptionOut] | type[LabRequestOut]
    resource: str  # the audit log's name for it
    open_status: str  # the one status in which it may still be cancelled
    cancelled_event: str
    cancelled_model: type[events.PrescriptionCancelled] | type[events.LabRequestCancelled]
    id_field: str  # the order's id in the event


PRESCRIPTION_ORDERS = OrderKind(
    Prescription,
    PrescriptionOut,
    "PRESCRIPTION",
    PrescriptionStatus.ACTIVE.value,
    events.PRESCRIPTION_CANCELLED,
    events.PrescriptionCancelled,
    "prescriptionId",
)
LAB_ORDERS = OrderKind(
    LabRequest,
    LabRequestOut,
    "LAB_REQUEST",
    LabRequestStatus.REQUESTED.value,
    events.LAB_REQUEST_CANCELLED,
    events.LabRequestCancelled,
    "labRequestId",
)


async def cancel_order(
    uow: UnitOfWork,
    kind: OrderKind,
    patient_id: str,
    order_id: str,
    body: OrderCancel,
    expected_version: int | None,
) -> dict[str, Any]:
    change = await edit(
        uow, kind.model, order_id, "order", kind.out_model.model_validate, kind.resource
    )
    order = change.record
    if order.patient_id != patient_id:
        raise NotFound(f"no order {order_id} for patient {patient_id}")
    change.check_version(expected_version)
    if order.status != kind.open_status:
        raise Conflict(
            f"the order is {order.status} and can no longer be cancelled", current=change.current
        )
    order.status = CANCELLED
    after = await change.save(
        "CANCEL",
        event=kind.cancelled_event,
        data=lambda _: kind.cancelled_model.model_validate(
            {
                kind.id_field: order.id,
                "patientId": patient_id,
                "visitId": order.visit_id,
                "cancelledBy": uow.actor_id,
                "reason": body.reason,
            }
        ),
        details=body.reason,
    )
    return after.model_dump(mode="json", by_alias=True)


# -- what the other departments report -----------------------------------------------------------


async def take_over_from_triage(
    uow: UnitOfWork,
    worklist: Worklist,
    *,
    patient_id: str,
    visit_id: str,
    priority: Priority,
    triage_category: str,
    chief_complaint: str | None,
) -> None:
    """Triage handed the patient over: onto the consultation worklist, most urgent first."""
    complaint = chief_complaint or "no complaint recorded"
    await worklist.place(
        uow,
        patient_id=patient_id,
        visit_id=visit_id,
        priority=priority,
        reason=f"triaged as {triage_category} - {complaint}",
        cause="triage completed",
    )


async def _record_fulfilment(
    uow: UnitOfWork,
    model: type[Order],
    order_id: str,
    status: str,
    **outcome: object,
) -> None:
    """The department reported an order fulfilled: its status and ``outcome`` are kept, once
    (a report heard again changes nothing)."""
    order = await uow.session.get(model, order_id, with_for_update=True)
    if order is None or order.status == status:
        return
    order.status = status
    for column, value in outcome.items():
        setattr(order, column, value)


async def record_lab_results(uow: UnitOfWork, report: lab.LabRequestCompleted) -> None:
    """The lab reported: the request is completed with its results."""
    await _record_fulfilment(
        uow,
        LabRequest,
        report.lab_request_id,
        LabRequestStatus.COMPLETED.value,
        results=[to_json(result) for result in report.results],
        results_critical=report.critical,
        result_notes=report.notes,
        completed_by=report.completed_by,
        completed_at=report.completed_at,
    )


async def record_dispensed(
    uow: UnitOfWork, dispensed: pharmacy.PrescriptionDispensed, *, dispensed_at: dt.datetime
) -> None:
    """The pharmacy dispensed the prescription (when it was heard of: ``dispensed_at``)."""
    await _record_fulfilment(
        uow,
        Prescription,
        dispensed.prescription_id,
        PrescriptionStatus.DISPENSED.value,
        dispensed_by=dispensed.dispensed_by,
        dispensed_at=dispensed_at,
    )


async def patient_record(session: AsyncSession, patient_id: str) -> PatientRecord:
    snapshot = await session.get(PatientSnapshot, patient_id)
    if snapshot is None:
        raise NotFound(f"no patient {patient_id} known to clinical")
    visit_id = snapshot.current_visit_id
    findings = await session.get(TriageFindings, visit_id) if visit_id else None

    async def rows(model: Any) -> list[Any]:
        return list(
            (
                await session.scalars(
                    select(model)
                    .where(model.patient_id == patient_id, model.visit_id == visit_id)
                    .order_by(model.created_at)
                )
            ).all()
        )

    return PatientRecord(
        patient_id=patient_id,
        op_number=snapshot.op_number,
        full_name=snapshot.full_name,
        gender=snapshot.gender,
        age=snapshot.age,
        visit_id=visit_id,
        triage=TriageFindingsOut.model_validate(findings) if findings else None,
        diagnoses=[DiagnosisOut.model_validate(d) for d in await rows(Diagnosis)],
        prescriptions=[PrescriptionOut.model_validate(p) for p in await rows(Prescription)],
        lab_requests=[LabRequestOut.model_validate(lr) for lr in await rows(LabRequest)],
        earlier_visits=await earlier_visits(session, patient_id, visit_id),
    )


async def earlier_visits(
    session: AsyncSession, patient_id: str, current_visit_id: str | None
) -> list[EarlierVisit]:
    """The patient's other visits (registration's events tell clinical of each), newest first,
    with their diagnoses."""
    visits = (
        await session.scalars(
            select(VisitRecord)
            .where(VisitRecord.patient_id == patient_id, VisitRecord.visit_id != current_visit_id)
            .order_by(VisitRecord.opened_at.desc().nulls_last(), VisitRecord.visit_id)
            .limit(EARLIER_VISITS)
        )
    ).all()
    diagnoses: dict[str, list[DiagnosisOut]] = {v.visit_id: [] for v in visits}
    for diagnosis in (
        await session.scalars(
            select(Diagnosis)
            .where(Diagnosis.patient_id == patient_id, Diagnosis.visit_id.in_(diagnoses))
            .order_by(Diagnosis.created_at)
        )
    ).all():
        diagnoses[diagnosis.visit_id].append(DiagnosisOut.model_validate(diagnosis))
    return [
        EarlierVisit(
            visit_id=v.visit_id,
            opened_at=v.opened_at,
            status=v.status,
            diagnoses=diagnoses[v.visit_id],
        )
        for v in visits
    ]


async def complete_consultation(uow: UnitOfWork, assignment: AssignmentTable) -> None:
    """The CONSULTATION assignment is completed: announce what was found and ordered."""
    visit_id = assignment.visit_id

    async def of_visit(model: Any) -> list[Any]:
        return list(
            (await uow.session.scalars(select(model).where(model.visit_id == visit_id))).all()
        )

    diagnoses = await of_visit(Diagnosis)
    if not diagnoses:
        raise InvalidInput(
            "diagnoses", "record at least one diagnosis before completing the consultation"
        )
    labs, prescriptions = await of_visit(LabRequest), await of_visit(Prescription)
    await uow.publish(
        events.CONSULTATION_COMPLETED,
        events.ConsultationCompleted(
            patient_id=assignment.patient_id,
            visit_id=visit_id,
            completed_by=uow.actor_id,
            completed_at=dt.datetime.now(dt.UTC),
            diagnosis_codes=[d.diagnosis_code for d in diagnoses],
            lab_request_ids=[lr.id for lr in labs if lr.status != CANCELLED],
            prescription_ids=[p.id for p in prescriptions if p.status != CANCELLED],
            pending_lab_requests=sum(lr.status == LAB_ORDERS.open_status for lr in labs),
            pending_prescriptions=sum(
                p.status == PRESCRIPTION_ORDERS.open_status for p in prescriptions
            ),
        ),
        subject=assignment.patient_id,
        visit_id=visit_id,
    )


async def visit_as_fhir(uow: UnitOfWork, visit_id: str) -> dict[str, Any]:
    """The visit as a FHIR R4B Bundle, from what clinical holds; the export is audited."""
    session = uow.session
    visit = await session.get(PatientVisit, visit_id)
    if visit is None:
        raise NotFound(f"no visit {visit_id} known to clinical")
    snapshot = await session.get(PatientSnapshot, visit.patient_id)
    if snapshot is None:
        raise NotFound(f"no patient {visit.patient_id} known to clinical")
    record = await session.get(VisitRecord, visit_id)
    findings = await session.get(TriageFindings, visit_id)

    async def rows(model: Any, order: Any) -> list[dict[str, Any]]:
        found = await session.scalars(
            select(model).where(model.visit_id == visit_id).order_by(order)
        )
        return [_columns(row) for row in found]

    parts = fhir.VisitParts(
        patient=_columns(snapshot),
        visit={"visit_id": visit_id, **(_columns(record) if record else {})},
        findings=_columns(findings) if findings else None,
        diagnoses=await rows(Diagnosis, Diagnosis.created_at),
        prescriptions=await rows(Prescription, Prescription.created_at),
        lab_requests=await rows(LabRequest, LabRequest.created_at),
        follow_ups=await rows(FollowUp, FollowUp.appointment_date),
    )
    await uow.audit_reads(
        "VISIT_FHIR",
        {"id": visit_id, "patientId": visit.patient_id, "visitId": visit_id},
        details=f"patient {visit.patient_id}",
    )
    return fhir.visit_bundle(parts)


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}
