"""Registration's use cases: each loads, applies the rules, writes, publishes and audits
through one unit of work; the caller commits."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.consumer import RefuseEvent
from kliniki.db import load
from kliniki.paging import Page, PageRequest, fetch_page
from kliniki.problems import Conflict, InvalidInput
from kliniki.records import Edit, edit
from kliniki.uow import UnitOfWork
from registration import events
from registration.domain import (
    CLOSED_VISIT_STATUSES,
    PaymentStatus,
    VisitStatus,
    advances,
    age_on,
    check_desk_visit_change,
    format_op_number,
    normalize_phone,
)
from registration.models import Appointment, OpNumberCounter, Patient, Visit
from registration.schemas import (
    AppointmentCreate,
    AppointmentOut,
    PatientCorrection,
    PatientCreate,
    PatientOut,
    VisitOut,
    VisitUpdate,
)

# Built once (every registration takes one); no ORM bookkeeping: nothing in the session holds it.
_NEXT_OP_NUMBER = (
    update(OpNumberCounter)
    .where(OpNumberCounter.id == 1)
    .values(last_value=OpNumberCounter.last_value + 1)
    .returning(OpNumberCounter.last_value)
    .execution_options(synchronize_session=False)
)


async def next_op_number(session: AsyncSession) -> str:
    """Take the next OP number. The row lock serialises concurrent registrations, and a
    rollback returns the number, so the sequence has no gaps."""
    value = await session.scalar(_NEXT_OP_NUMBER)
    assert value is not None, "the op_number_counter row is created by the first migration"
    return format_op_number(value)


def patient_out(patient: Patient, visit: Visit | None) -> PatientOut:
    out = PatientOut.model_validate(
        {**_columns(patient), "full_name": f"{patient.first_name} {patient.last_name}"}
    )
    out.visit = VisitOut.model_validate(visit) if visit else None
    return out


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def _patient_data(patient: Patient) -> dict[str, Any]:
    return {
        "patient_id": patient.id,
        "op_number": patient.op_number,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "gender": patient.gender,
        "age": patient.age,
        "date_of_birth": patient.date_of_birth,
        "phone_number": patient.phone_number,
        "insurance_type": patient.insurance_type,
        "version": patient.version,
    }


def visit_event_data(visit: Visit, patient: Patient, changed: list[str]) -> events.VisitData:
    return events.VisitData.model_validate(
        {
            **_columns(visit),
            "visit_id": visit.id,
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "gender": patient.gender,
            "age": patient.age,
            "changed_fields": changed,
        }
    )


async def register_patient(uow: UnitOfWork, body: PatientCreate) -> PatientOut:
    session = uow.session
    age = body.age
    if body.date_of_birth is not None:
        age = age_on(body.date_of_birth, dt.date.today())
    op_number = await next_op_number(session)
    patient = Patient(
        op_number=op_number,
        first_name=body.first_name,
        last_name=body.last_name,
        gender=body.gender.value,
        date_of_birth=body.date_of_birth,
        age=age,
        phone_number=body.phone_number,
        insurance_type=body.insurance_type.value,
        insurance_number=body.insurance_number,
        registered_by=uow.actor_id,
    )
    session.add(patient)
    await session.flush()
    visit = Visit(
        patient_id=patient.id,
        op_number=op_number,
        status=VisitStatus.REGISTERED.value,
        payment_type=body.insurance_type.value,
        opened_by=uow.actor_id,
    )
    session.add(visit)
    await session.flush()
    await uow.publish(
        events.PATIENT_REGISTERED,
        events.PatientRegistered.model_validate(
            {
                **_patient_data(patient),
                "visit_id": visit.id,
                "registered_by": uow.actor_id,
                "registered_at": patient.created_at,
            }
        ),
        subject=patient.id,
        visit_id=visit.id,
    )
    out = patient_out(patient, visit)
    await uow.audit(
        "CREATE",
        "PATIENT",
        patient.id,
        after=out,
        details=f"Patient registered ({op_number}) with visit {visit.id}",
    )
    return out


async def open_visit(uow: UnitOfWork, patient_id: str, payment_type: str | None) -> VisitOut:
    """A returning patient's new visit (refused while another visit is open)."""
    patient = await get_patient(uow.session, patient_id)
    if await current_visit(uow.session, patient.id) is not None:
        raise Conflict(f"patient {patient_id} already has an open visit; close it first")
    visit = Visit(
        patient_id=patient.id,
        op_number=patient.op_number,
        status=VisitStatus.REGISTERED.value,
        payment_type=payment_type or patient.insurance_type,
        opened_by=uow.actor_id,
    )
    uow.session.add(visit)
    await uow.session.flush()
    await uow.publish(
        events.VISIT_OPENED,
        visit_event_data(visit, patient, []),
        subject=patient.id,
        visit_id=visit.id,
    )
    out = VisitOut.model_validate(visit)
    await uow.audit("CREATE", "VISIT", visit.id, after=out)
    return out


async def get_patient(
    session: AsyncSession, patient_id: str, *, for_update: bool = False
) -> Patient:
    return await load(session, Patient, patient_id, "patient", for_update=for_update)


async def current_visit(session: AsyncSession, patient_id: str) -> Visit | None:
    closed = [s.value for s in CLOSED_VISIT_STATUSES]
    return await session.scalar(
        select(Visit)
        .where(Visit.patient_id == patient_id, Visit.status.not_in(closed))
        .order_by(Visit.opened_at.desc())
        .limit(1)
    )


def _like_any(value: str) -> str:
    """An ILIKE pattern matching ``value`` anywhere, its own % and _ taken literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_patients(session: AsyncSession, q: str, page: PageRequest) -> Page:
    """By OP number (``OP12345``, ``OP#12345`` or ``12345``), phone number, or name."""
    q = q.strip()
    conditions = []
    digits = q.upper().removeprefix("OP").lstrip("#")
    if digits.isdigit():
        conditions.append(Patient.op_number == format_op_number(int(digits)))
    with contextlib.suppress(ValueError):  # not a phone number: search the other ways
        conditions.append(Patient.phone_number == normalize_phone(q))
    words = q.split()
    if words:
        name_match = [
            or_(
                Patient.first_name.ilike(_like_any(w), escape="\\"),
                Patient.last_name.ilike(_like_any(w), escape="\\"),
            )
            for w in words
        ]
        conditions.append(and_(*name_match))
    found = await fetch_page(
        session,
        select(Patient).where(or_(*conditions)),
        [Patient.last_name, Patient.first_name, Patient.id],
        page,
    )
    return Page(
        [patient_out(p, await current_visit(session, p.id)) for p in found.items], found.next_cursor
    )


async def correct_patient(
    uow: UnitOfWork, patient_id: str, body: PatientCorrection, expected_version: int | None
) -> PatientOut:
    patient = await get_patient(uow.session, patient_id, for_update=True)
    visit = await current_visit(uow.session, patient.id)
    change = Edit(
        uow, patient, patient_out(patient, visit), lambda p: patient_out(p, visit), "PATIENT"
    )
    change.check_version(expected_version, "PATIENT")
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    if "date_of_birth" in changes and changes["date_of_birth"] is not None:
        changes["age"] = age_on(changes["date_of_birth"], dt.date.today())
    for field, value in changes.items():
        setattr(patient, field, value.value if hasattr(value, "value") else value)
    return await change.save(
        "UPDATE",
        event=events.PATIENT_UPDATED,
        data=lambda _: events.PatientUpdated.model_validate(
            {
                **_patient_data(patient),
                "changed_fields": sorted(changes),
                "updated_by": uow.actor_id,
            }
        ),
        subject=patient.id,
        visit_id=visit.id if visit else None,
    )


async def get_visit(session: AsyncSession, visit_id: str, *, for_update: bool = False) -> Visit:
    return await load(session, Visit, visit_id, "visit", for_update=for_update)


async def list_visits(
    session: AsyncSession, status: VisitStatus | None, patient_id: str | None, page: PageRequest
) -> Page:
    query = select(Visit)
    if status is not None:
        query = query.where(Visit.status == status.value)
    if patient_id:
        query = query.where(Visit.patient_id == patient_id)
    found = await fetch_page(session, query, [Visit.opened_at, Visit.id], page)
    return Page([VisitOut.model_validate(v) for v in found.items], found.next_cursor)


async def update_visit(
    uow: UnitOfWork, visit_id: str, body: VisitUpdate, expected_version: int | None
) -> VisitOut:
    change = await edit(uow, Visit, visit_id, "visit", VisitOut.model_validate, "VISIT")
    visit, before = change.record, change.before
    change.check_version(expected_version, "VISIT")
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    current = {column: getattr(visit, column) for column in changes if column != "version"}
    current["status"] = visit.status
    errors = check_desk_visit_change(current, changes)
    if errors:
        raise InvalidInput.of(
            [(to_camel(field), message) for field, message in errors],
            current=change.current,
            record="VISIT",
        )
    changes.pop("completed_at", None)  # a confirmation only: the server keeps its own time
    changed = {k: v for k, v in changes.items() if getattr(visit, k) != v}
    for field, value in changed.items():
        setattr(visit, field, value.value if hasattr(value, "value") else value)
    if not changed:
        return before
    patient = await get_patient(uow.session, visit.patient_id)
    return await change.save(
        "UPDATE",
        event=events.VISIT_UPDATED,
        data=lambda _: visit_event_data(visit, patient, sorted(changed)),
        visit_id=visit.id,
    )


async def schedule_appointment(
    uow: UnitOfWork, body: AppointmentCreate, clinicians: frozenset[str]
) -> AppointmentOut:
    """A follow-up (or other) appointment; the clinician hears of it (follow_up_scheduled)."""
    patient = await get_patient(uow.session, body.patient_id)
    clinician = body.clinician_id or (uow.actor_id if uow.actor_id in clinicians else None)
    if clinician is not None and clinician not in clinicians:
        raise InvalidInput("clinicianId", f"{clinician} is not a clinician in the staff directory")
    # The visit that asked for it: the open one, else the one that just ended (the scenario's
    # follow-up is booked after payment completed the visit).
    visit = await current_visit(uow.session, patient.id) or await uow.session.scalar(
        select(Visit)
        .where(Visit.patient_id == patient.id, Visit.status != VisitStatus.CANCELLED.value)
        .order_by(Visit.opened_at.desc())
        .limit(1)
    )
    if body.visit_id is not None:
        named = await uow.session.get(Visit, body.visit_id)
        if named is None or named.patient_id != patient.id:
            raise InvalidInput(
                "visitId", f"visit {body.visit_id} is not a visit of patient {patient.id}"
            )
    appointment = Appointment(
        patient_id=patient.id,
        visit_id=body.visit_id or (visit.id if visit else None),
        appointment_date=body.appointment_date,
        appointment_type=body.appointment_type.value,
        clinician_id=clinician,
        notes=body.notes,
        scheduled_by=uow.actor_id,
    )
    uow.session.add(appointment)
    await uow.session.flush()
    out = AppointmentOut.model_validate(appointment)
    await uow.publish(
        events.APPOINTMENT_SCHEDULED,
        events.AppointmentScheduled.model_validate(
            {
                **out.model_dump(mode="json", by_alias=True),
                "appointmentId": appointment.id,
                "patientName": f"{patient.first_name} {patient.last_name}",
                "opNumber": patient.op_number,
            }
        ),
        subject=patient.id,
        visit_id=appointment.visit_id,
    )
    await uow.audit("CREATE", "APPOINTMENT", appointment.id, after=out)
    return out


async def list_appointments(session: AsyncSession, patient_id: str, page: PageRequest) -> Page:
    query = select(Appointment).where(Appointment.patient_id == patient_id)
    found = await fetch_page(
        session, query, [Appointment.appointment_date, Appointment.created_at, Appointment.id], page
    )
    return Page([AppointmentOut.model_validate(a) for a in found.items], found.next_cursor)


# -- the visit follows the departments' events ---------------------------------------------------


async def advance_visit(
    uow: UnitOfWork,
    visit_id: str | None,
    patient_id: str | None,
    new: VisitStatus,
    cause: str,
    **fields: object,
) -> Visit | None:
    """Move the visit forward to ``new`` (never backwards), with its event and audit; None
    when the visit is unknown or already further on. A visit of another patient than the one
    the event names is refused into the dead-letter queue."""
    visit = await uow.session.get(Visit, visit_id, with_for_update=True) if visit_id else None
    if visit is not None and patient_id and visit.patient_id != patient_id:
        raise RefuseEvent(f"visit {visit.id} is not a visit of patient {patient_id}")
    if visit is None or not advances(VisitStatus(visit.status), new):
        return None
    change = Edit(uow, visit, VisitOut.model_validate(visit), VisitOut.model_validate, "VISIT")
    visit.status = new.value
    for name, value in fields.items():
        setattr(visit, name, value)
    patient = await get_patient(uow.session, visit.patient_id)
    completed = new is VisitStatus.COMPLETED
    await change.save(
        "UPDATE",
        event=events.VISIT_COMPLETED if completed else events.VISIT_UPDATED,
        data=lambda _: visit_event_data(visit, patient, ["status", *fields]),
        visit_id=visit.id,
        details=cause,
    )
    return visit


async def visit_paid(
    uow: UnitOfWork,
    visit_id: str | None,
    patient_id: str | None,
    *,
    total_amount: Decimal,
    cause: str,
) -> None:
    """Paid in full: the visit is completed (billing's word on money is final)."""
    visit = await advance_visit(
        uow,
        visit_id,
        patient_id,
        VisitStatus.COMPLETED,
        cause,
        payment_status=PaymentStatus.PAID.value,
        total_amount=total_amount,
        completed_at=dt.datetime.now(dt.UTC),
    )
    if visit is None and visit_id:  # completed already (by the cashier's PATCH): the payment
        existing = await uow.session.get(Visit, visit_id)
        if existing is not None and existing.payment_status != PaymentStatus.PAID.value:
            existing.payment_status = PaymentStatus.PAID.value
            existing.total_amount = total_amount
