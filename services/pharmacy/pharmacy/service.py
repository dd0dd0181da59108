"""The pharmacy's use cases: receive prescriptions, dispense them.

Each use case writes, publishes and audits through one unit of work; the caller commits.
"""

from __future__ import annotations

from sqlalchemy import case
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.auth import Principal
from kliniki.db import load, utcnow
from kliniki.events import CloudEvent
from kliniki.paging import Page, PageRequest
from kliniki.problems import Conflict, InvalidInput, check_version
from kliniki.uow import UnitOfWork
from kliniki.worklist.orders import Orders, order_priority, ordered_at
from kliniki.worklist.service import Worklist
from pharmacy import events
from pharmacy.domain import (
    OPEN_STATUSES,
    PrescriptionStatus,
    check_dispensable,
    check_dispenser,
)
from pharmacy.models import Prescription
from pharmacy.schemas import PrescriptionDispense, PrescriptionOut


def prescription_out(prescription: Prescription) -> PrescriptionOut:
    return PrescriptionOut.model_validate(prescription)


def _describe(p: Prescription) -> str:
    medication = f"{p.medication_name} {p.dosage}" if p.dosage else p.medication_name
    return f"{medication} prescribed by {p.prescribed_by}"


PRESCRIPTIONS = Orders(
    model=Prescription,
    resource="PRESCRIPTION",
    noun="prescription",
    open_statuses=OPEN_STATUSES,
    fulfilled_status=PrescriptionStatus.DISPENSED.value,
    describe=_describe,
    to_out=prescription_out,
)


# -- prescriptions from clinical -----------------------------------------------------------------


async def receive_prescription(uow: UnitOfWork, worklist: Worklist, event: CloudEvent) -> None:
    """``prescription.created``: ready for dispensing, and the patient on the worklist."""
    data = event.data
    if await uow.session.get(Prescription, data["prescriptionId"]) is not None:
        return  # the same prescription announced again under a new event id
    snapshot = await PRESCRIPTIONS.known_patient(worklist, uow.session, data["patientId"])
    priority = order_priority(data.get("priority"))
    prescription = Prescription(
        id=data["prescriptionId"],
        patient_id=data["patientId"],
        visit_id=data.get("visitId") or event.visitid or snapshot.current_visit_id,
        patient_name=snapshot.full_name,
        op_number=snapshot.op_number,
        medication_name=data["medicationName"],
        dosage=data.get("dosage"),
        frequency=data.get("frequency"),
        duration=data.get("duration"),
        instructions=data.get("instructions"),
        priority=priority.value,
        prescribed_by=data.get("prescribedBy") or event.actorid or "unknown",
        prescribed_at=ordered_at(event),
        status=PrescriptionStatus.READY_FOR_DISPENSING.value,
    )
    await PRESCRIPTIONS.receive(
        uow, worklist, prescription, priority=priority, cause=_describe(prescription)
    )


async def cancel_prescription(uow: UnitOfWork, worklist: Worklist, event: CloudEvent) -> None:
    """``prescription.cancelled``: not to be dispensed, unless it already was."""
    await PRESCRIPTIONS.cancel(
        uow, worklist, event.data["prescriptionId"], reason=event.data.get("reason")
    )


# -- reading -------------------------------------------------------------------------------------


async def get_prescription(
    session: AsyncSession, prescription_id: str, *, for_update: bool = False
) -> Prescription:
    return await load(session, Prescription, prescription_id, "prescription", for_update=for_update)


async def list_prescriptions(
    session: AsyncSession,
    status: PrescriptionStatus | None,
    visit_id: str | None,
    patient_id: str | None,
    page: PageRequest,
) -> Page:
    """Urgent first, then in order of arrival: the order the counter works in."""
    urgent_first = case((Prescription.priority == "URGENT", 0), else_=1)
    return await PRESCRIPTIONS.listing(
        session,
        [urgent_first, Prescription.prescribed_at, Prescription.id],
        page,
        status=status.value if status else None,
        patient_id=patient_id,
        visit_id=visit_id,
    )


# -- dispensing ------------------------------------------------------------------------------------


async def dispense(
    uow: UnitOfWork,
    worklist: Worklist,
    pharmacist: Principal,
    prescription_id: str,
    body: PrescriptionDispense,
    expected_version: int | None,
) -> PrescriptionOut:
    """updatePrescription: record who dispensed, when, and the counselling given."""
    prescription = await get_prescription(uow.session, prescription_id, for_update=True)
    before = prescription_out(prescription)
    current = before.model_dump(mode="json", by_alias=True)
    # A second dispensing is refused whatever version it names: the record shows who did it.
    try:
        check_dispensable(prescription.status)
    except ValueError as exc:
        raise Conflict(str(exc), current=current) from exc
    check_version(expected_version, prescription.version, current)
    try:
        check_dispenser(body.dispensed_by, pharmacist.user_id)
    except ValueError as exc:
        raise InvalidInput("dispensedBy", str(exc)) from exc

    prescription.status = PrescriptionStatus.DISPENSED.value
    prescription.dispensed_by = pharmacist.user_id
    prescription.dispensed_by_name = pharmacist.name
    prescription.dispensed_at = utcnow()  # the server's clock, not the counter PC's
    prescription.dispensing_notes = body.dispensing_notes
    await uow.session.flush()
    after = prescription_out(prescription)
    await uow.publish(
        events.PRESCRIPTION_DISPENSED,
        events.PrescriptionDispensed(
            prescription_id=prescription.id,
            patient_id=prescription.patient_id,
            visit_id=prescription.visit_id,
            patient_name=prescription.patient_name,
            op_number=prescription.op_number,
            medication_name=prescription.medication_name,
            dosage=prescription.dosage,
            dispensed_by=pharmacist.user_id,
            dispensed_by_name=pharmacist.name,
            dispensed_at=prescription.dispensed_at,
            dispensing_notes=prescription.dispensing_notes,
            prescribed_by=prescription.prescribed_by,
            version=prescription.version,
        ),
        subject=prescription.patient_id,
        visit_id=prescription.visit_id,
    )
    await PRESCRIPTIONS.settle_visit(uow, worklist, prescription.visit_id)
    await uow.audit("DISPENSE", "PRESCRIPTION", prescription.id, before=before, after=after)
    return after
